import Database from "better-sqlite3";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { QueueFullError, StoreError, ValidationError } from "../../../src/core/errors.js";
import { SqliteStore } from "../../../src/stores/sqlite/index.js";
import { LEASE_MS, T0, claimAll, job, jobs, useTempDb } from "./support.js";

describe("SqliteStore durability and lifecycle", () => {
  const tmp = useTempDb();

  it("keeps jobs across close and reopen, exactly as get() showed them", async () => {
    const path = tmp.path();
    const store = await tmp.open({ path });
    const results = await store.enqueue({
      jobs: [
        job(T0, { name: "a", inputJson: '{"x":[1,2,{"y":"z"}]}', priority: 4, key: "ka", group: "g", timeoutMs: 5000 }),
        job(T0, { name: "b", runAt: T0 + 60_000 }),
        job(T0, { name: "c" }),
      ],
      now: T0,
      maxQueued: null,
    });
    const [a, b, c] = results.map((r) => r.id);
    const { jobs: claimed } = await claimAll(store, "w1", T0, 10, { c: 1 });
    await store.heartbeat({
      workerId: "w1",
      entries: [{ id: c!, attempt: 1, progress: { pct: 50 }, checkpoint: { step: 3 } }],
      leaseMs: LEASE_MS,
      now: T0 + 5,
    });
    expect(claimed.map((j) => j.id)).toEqual([c]);
    const before = await Promise.all([a!, b!, c!].map((id) => store.get(id)));
    const countsBefore = await store.counts();
    await store.close();

    const reopened = await tmp.open({ path });
    expect(await Promise.all([a!, b!, c!].map((id) => reopened.get(id)))).toEqual(before);
    expect(await reopened.counts()).toEqual(countsBefore);
    expect(before[0]).toMatchObject({ input: { x: [1, 2, { y: "z" }] }, key: "ka", group: "g", priority: 4 });
    expect(before[2]).toMatchObject({ state: "running", progress: { pct: 50 }, checkpoint: { step: 3 } });
    // the key survives too
    const [dup] = await reopened.enqueue({ jobs: [job(T0, { key: "ka" })], now: T0, maxQueued: null });
    expect(dup).toEqual({ id: a, created: false });
  });

  it("init() is idempotent, close() is idempotent, and init() after close() reopens", async () => {
    const store = await tmp.open();
    await store.init();
    await store.enqueue({ jobs: jobs(2, T0), now: T0, maxQueued: null });
    await store.close();
    await store.close();
    await expect(store.counts()).rejects.toBeInstanceOf(StoreError);
    await store.init();
    expect(await store.counts()).toMatchObject({ queued: 2 });
  });

  it("opens on first use without init(), like the other stores; a closed store stays closed until init()", async () => {
    const path = tmp.path();
    const store = await tmp.open({ path, init: false });
    expect(await store.counts()).toEqual({ queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 });
    await store.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null });
    await store.close();
    await expect(store.get("1")).rejects.toThrow(/closed; call init\(\)/);
    await store.init();
    expect((await store.get("1"))?.state).toBe("queued");
  });

  it("wraps driver errors in StoreError with the cause", async () => {
    const store = new SqliteStore({ path: join(tmpdir(), "optiq-no-such-dir", "x", "q.db") });
    const error = await store.init().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe("OPTIQ_STORE");
    expect((error as StoreError).cause).toBeInstanceOf(Error);
  });

  it("fails a write with StoreError (cause SQLITE_BUSY) when another connection holds the lock past busyTimeoutMs", async () => {
    const path = tmp.path();
    const store = await tmp.open({ path, busyTimeoutMs: 50 });
    const other = new Database(path);
    try {
      other.exec("BEGIN IMMEDIATE");
      const error = await store.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StoreError);
      expect(((error as StoreError).cause as { code?: string }).code).toMatch(/^SQLITE_BUSY/);
      other.exec("ROLLBACK");
    } finally {
      other.close();
    }
    // the store is still usable
    expect(await store.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null })).toHaveLength(1);
  });

  it("passes QueueFullError through unwrapped and rejects the whole batch", async () => {
    const store = await tmp.open();
    await store.enqueue({ jobs: jobs(3, T0), now: T0, maxQueued: 5 });
    const error = await store.enqueue({ jobs: jobs(3, T0), now: T0, maxQueued: 5 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error).toMatchObject({ queued: 3, limit: 5 });
    expect(await store.counts()).toMatchObject({ queued: 3 });
  });

  it("validates its options", () => {
    expect(() => new SqliteStore({ path: "" })).toThrow(ValidationError);
    expect(() => new SqliteStore({ busyTimeoutMs: -1 })).toThrow(ValidationError);
    expect(() => new SqliteStore({ pollIntervalMs: 0 })).toThrow(ValidationError);
    expect(() => new SqliteStore({ synchronous: "OFF" as "FULL" })).toThrow(ValidationError);
    expect(() => new SqliteStore({ watch: "yes" as unknown as boolean })).toThrow(/options\.watch/);
    expect(new SqliteStore().path).toBe("./optiq.db");
  });

  it("keeps counts exact through many claims and settles, and still claims new work among 10k finished jobs", async () => {
    const store = await tmp.open({ synchronous: "NORMAL" });
    await store.configure({ groups: new Map(), retention: { maxAgeMs: 1e12, maxCount: 1e9 } });
    for (let round = 0; round < 10; round++) {
      await store.enqueue({ jobs: jobs(1000, T0), now: T0, maxQueued: null });
      const { jobs: claimed } = await claimAll(store, "w", T0, 1000);
      expect(claimed).toHaveLength(1000);
      await store.settle({
        workerId: "w",
        settlements: claimed.map((j) => ({ id: j.id, attempt: 1, outcome: { kind: "completed", resultJson: "1" } })),
        now: T0,
      });
    }
    expect(await store.counts()).toEqual({ queued: 0, running: 0, completed: 10_000, failed: 0, cancelled: 0 });
    const [fresh] = await store.enqueue({ jobs: jobs(1, T0, { priority: -5 }), now: T0, maxQueued: null });
    expect((await claimAll(store, "w", T0)).jobs.map((j) => j.id)).toEqual([fresh!.id]);
  });

  it("prune() removes a large backlog past retention in bounded batches, oldest first, keeping counts exact", async () => {
    const store = await tmp.open({ synchronous: "NORMAL" });
    // generous while the backlog builds, then tightened as a restarted queue would
    await store.configure({ groups: new Map(), retention: { maxAgeMs: 1e12, maxCount: 1e9 } });
    for (let round = 0; round < 3; round++) {
      await store.enqueue({ jobs: jobs(1000, T0), now: T0, maxQueued: null });
      const { jobs: claimed } = await claimAll(store, "w", T0, 1000);
      await store.settle({
        workerId: "w",
        settlements: claimed.map((j) => ({ id: j.id, attempt: 1, outcome: { kind: "completed", resultJson: "1" } })),
        now: T0 + round,
      });
    }
    await store.enqueue({ jobs: jobs(5, T0), now: T0, maxQueued: null });
    await store.configure({ groups: new Map(), retention: { maxAgeMs: 1e12, maxCount: 500 } });
    expect(await store.prune(T0 + 10)).toBe(2500);
    expect(await store.counts()).toEqual({ queued: 5, running: 0, completed: 500, failed: 0, cancelled: 0 });
    const kept = await store.list({ state: "completed", limit: 1000 });
    expect(kept).toHaveLength(500);
    expect(kept.every((j) => j.finishedAt === T0 + 2)).toBe(true);
    expect(await store.prune(T0 + 10)).toBe(0);
  });
});
