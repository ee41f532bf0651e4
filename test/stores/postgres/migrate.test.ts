import pg from "pg";
import { describe, expect, it } from "vitest";
import { StoreError, ValidationError } from "../../../src/core/errors.js";
import { PostgresStore, loadMigrations } from "../../../src/stores/postgres/index.js";
import { makeJob } from "../../support/job-factory.js";
import { withClient } from "../../support/pg.js";
import { T0, useSchema } from "./fixtures.js";

/** Not the default "optiq": other test files terminate those connections on purpose. */
const APP = "optiq-test-pg";

describe("PostgresStore migrations and lifecycle", () => {
  const fx = useSchema();

  it("ten stores initialising a fresh schema at once: no error, one set of tables, each migration recorded once", async () => {
    const stores = Array.from(
      { length: 10 },
      () =>
        new PostgresStore({
          connectionString: fx.db.connectionString,
          schema: fx.db.schema,
          poolSize: 2,
          applicationName: APP,
        }),
    );
    try {
      await Promise.all(stores.map((s) => s.init()));
      const migrations = await loadMigrations();
      await withClient(async (c) => {
        const recorded = await c.query<{ version: number }>(
          `SELECT version FROM "${fx.db.schema}".migrations ORDER BY version`,
        );
        expect(recorded.rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
        const tables = await c.query<{ table_name: string }>(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
          [fx.db.schema],
        );
        expect(tables.rows.map((r) => r.table_name)).toEqual([
          "count_deltas",
          "counts",
          "group_starts",
          "groups",
          "jobs",
          "migrations",
        ]);
        const counters = await c.query<{ n: string }>(`SELECT count(*) AS n FROM "${fx.db.schema}".counts`);
        expect(Number(counters.rows[0]!.n)).toBe(5);
      });
      // all ten work on the same tables
      const [a, b] = stores;
      const [created] = await a!.enqueue({ jobs: [makeJob(T0)], now: T0, maxQueued: null });
      expect((await b!.get(created!.id))?.state).toBe("queued");
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("init() is idempotent and concurrent calls share one migration", async () => {
    const store = new PostgresStore({
      connectionString: fx.db.connectionString,
      schema: fx.db.schema,
      applicationName: APP,
    });
    try {
      await Promise.all([store.init(), store.init(), store.init()]);
      await store.init();
      expect(await store.counts()).toEqual({ queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 });
    } finally {
      await store.close();
      await store.close();
    }
  });

  it("reopens after close(): init() creates a new pool, and the data is still there", async () => {
    const store = await fx.open();
    const [created] = await store.enqueue({ jobs: [makeJob(T0)], now: T0, maxQueued: null });
    await store.close();
    await expect(store.get(created!.id)).rejects.toBeInstanceOf(StoreError);
    await store.init();
    expect((await store.get(created!.id))?.state).toBe("queued");
  });

  it("opens warm connections, with the claim and settle statements prepared, and changes no job doing so", async () => {
    const appName = `${APP}-warm-${fx.db.schema}`.slice(0, 60);
    const store = new PostgresStore({
      connectionString: fx.db.connectionString,
      schema: fx.db.schema,
      applicationName: appName,
    });
    try {
      await store.init();
      const [queued] = await store.enqueue({ jobs: [makeJob(T0)], now: T0, maxQueued: null });
      await withClient(async (c) => {
        const { rows } = await c.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1",
          [appName],
        );
        expect(Number(rows[0]!.n)).toBeGreaterThanOrEqual(3);
      });
      expect((await store.get(queued!.id))?.state).toBe("queued");
      expect(await store.counts()).toMatchObject({ queued: 1, running: 0, completed: 0 });
    } finally {
      await store.close();
    }
  });

  it("warms no connection of a pool it is given (a small pool would wait on itself)", async () => {
    const pool = new pg.Pool({ connectionString: fx.db.connectionString, max: 1 });
    try {
      const store = new PostgresStore({ pool, schema: fx.db.schema });
      await store.init();
      expect(pool.totalCount).toBeLessThanOrEqual(1);
      await store.close();
    } finally {
      await pool.end();
    }
  });

  it("uses a pool it is given, and leaves it open on close()", async () => {
    const pool = new pg.Pool({ connectionString: fx.db.connectionString, max: 2 });
    try {
      const store = new PostgresStore({ pool, schema: fx.db.schema });
      await store.init();
      const [created] = await store.enqueue({ jobs: [makeJob(T0)], now: T0, maxQueued: null });
      await store.close();
      const { rows } = await pool.query<{ state: string }>(`SELECT state FROM "${fx.db.schema}".jobs WHERE id = $1`, [
        created!.id,
      ]);
      expect(rows).toEqual([{ state: "queued" }]);
    } finally {
      await pool.end();
    }
  });

  it("rejects schema names that are not plain identifiers", () => {
    for (const schema of ["", "1abc", 'a"b', "a;drop", "a b", "x".repeat(49), "ünï"]) {
      expect(() => new PostgresStore({ schema })).toThrow(ValidationError);
    }
    expect(() => new PostgresStore({ schema: "Mixed_Case_1" })).not.toThrow();
  });

  it("keeps a mixed-case schema name exactly (quoted everywhere)", async () => {
    const schema = `${fx.db.schema}_Mixed`;
    const store = new PostgresStore({ connectionString: fx.db.connectionString, schema, applicationName: APP });
    try {
      await store.init();
      const [created] = await store.enqueue({ jobs: [makeJob(T0)], now: T0, maxQueued: null });
      expect((await store.get(created!.id))?.state).toBe("queued");
      const { rows } = await withClient((c) =>
        c.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE nspname = $1", [schema]),
      );
      expect(rows).toHaveLength(1);
    } finally {
      await store.close();
      await withClient((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
    }
  });

  it("fails init() with a StoreError when the database is unreachable", async () => {
    const store = new PostgresStore({
      connectionString: "postgres://postgres@127.0.0.1:1/none",
      schema: "optiq_unreachable",
    });
    await expect(store.init()).rejects.toBeInstanceOf(StoreError);
    await store.close();
  });
});
