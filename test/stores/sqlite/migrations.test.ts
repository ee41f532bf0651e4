import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { StoreError } from "../../../src/core/errors.js";
import { MIGRATIONS, SCHEMA_VERSION } from "../../../src/stores/sqlite/schema.js";
import { T0, job, runChild, useTempDb } from "./support.js";

function inspect(path: string): { version: number; tables: string[]; indexes: string[]; journal: string } {
  const db = new Database(path, { readonly: true });
  try {
    const names = (type: string): string[] =>
      db
        .prepare("SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .pluck()
        .all(type) as string[];
    return {
      version: db.pragma("user_version", { simple: true }) as number,
      tables: names("table"),
      indexes: names("index"),
      journal: db.pragma("journal_mode", { simple: true }) as string,
    };
  } finally {
    db.close();
  }
}

describe("SqliteStore schema and migrations", () => {
  const tmp = useTempDb();

  it("creates the schema in a fresh file, at the latest version, in WAL mode", async () => {
    const path = tmp.path();
    await tmp.open({ path });
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    const info = inspect(path);
    expect(info.version).toBe(SCHEMA_VERSION);
    expect(info.journal).toBe("wal");
    expect(info.tables).toEqual(expect.arrayContaining(["jobs", "counts", "groups", "group_starts", "events"]));
    expect(info.indexes).toEqual(
      expect.arrayContaining([
        "jobs_key",
        "jobs_runnable",
        "jobs_due",
        "jobs_leases",
        "jobs_group_running",
        "jobs_finished",
      ]),
    );
  });

  it("reopens an existing file without migrating again, keeping its data", async () => {
    const path = tmp.path();
    const first = await tmp.open({ path });
    const [r] = await first.enqueue({ jobs: [job(T0, { key: "k" })], now: T0, maxQueued: null });
    await first.close();
    const again = await tmp.open({ path });
    expect(inspect(path).version).toBe(SCHEMA_VERSION);
    expect((await again.get(r!.id))?.key).toBe("k");
    expect(await again.counts()).toMatchObject({ queued: 1 });
  });

  it("lets two stores in one process open a fresh file at once", async () => {
    const path = tmp.path();
    const [a, b] = await Promise.all([tmp.open({ path }), tmp.open({ path })]);
    await a.enqueue({ jobs: [job(T0)], now: T0, maxQueued: null });
    await b.enqueue({ jobs: [job(T0)], now: T0, maxQueued: null });
    expect(await a.counts()).toMatchObject({ queued: 2 });
    expect(inspect(path).version).toBe(SCHEMA_VERSION);
  });

  it("lets several processes open (and migrate) a fresh file at once", async () => {
    const path = tmp.path();
    const results = await Promise.all(Array.from({ length: 4 }, () => runChild(["open", path])));
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });
    const ids = results.map((r) => (JSON.parse(r.stdout) as { id: string; created: boolean }).id);
    expect(new Set(ids).size).toBe(4);
    const store = await tmp.open({ path });
    expect(await store.counts()).toMatchObject({ queued: 4 });
    expect(inspect(path).version).toBe(SCHEMA_VERSION);
  });

  it("refuses a file from a newer optiq with a StoreError", async () => {
    const path = tmp.path();
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const store = await tmp.open({ path, init: false });
    const error = await store.init().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toMatch(/newer/);
    expect(inspect(path).version).toBe(SCHEMA_VERSION + 1);
  });
});
