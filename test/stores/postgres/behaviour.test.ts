import { describe, expect, it } from "vitest";
import type { StoreCounts } from "../../../src/store/port.js";
import type { PostgresStore } from "../../../src/stores/postgres/index.js";
import { makeJob, makeJobs } from "../../support/job-factory.js";
import { withClient } from "../../support/pg.js";
import { LEASE_MS, T0, useSchema } from "./fixtures.js";

const done = { kind: "completed", resultJson: "null" } as const;

function claimAll(store: PostgresStore, now: number, limit = 1000, workerId = "w") {
  return store.claim({ workerId, limit, names: new Map([["t", limit]]), leaseMs: LEASE_MS, now });
}

describe("PostgresStore specifics", () => {
  const fx = useSchema();

  async function countedInTable(): Promise<StoreCounts> {
    const { rows } = await withClient((c) =>
      c.query<{ state: keyof StoreCounts; n: string }>(
        `SELECT state, count(*) AS n FROM "${fx.db.schema}".jobs GROUP BY state`,
      ),
    );
    const out: StoreCounts = { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const r of rows) out[r.state] = Number(r.n);
    return out;
  }

  it("counts() stays equal to a full count of the table through every kind of write and compaction", async () => {
    const store = await fx.open();
    await store.configure({ groups: new Map(), retention: { maxAgeMs: 1e12, maxCount: 150 } });
    await store.enqueue({ jobs: makeJobs(300, T0, { maxAttempts: 2 }), now: T0, maxQueued: null });
    await store.enqueue({ jobs: makeJobs(20, T0, { runAt: T0 + 10_000 }), now: T0, maxQueued: null });
    const first = (await claimAll(store, T0, 200)).jobs;
    await store.settle({
      workerId: "w",
      settlements: first.slice(0, 100).map((j, i) => ({
        id: j.id,
        attempt: j.attempt,
        outcome:
          i % 3 === 0
            ? done
            : i % 3 === 1
              ? { kind: "failed", error: { name: "E", message: "x" } }
              : { kind: "retry", error: { name: "E", message: "x" }, runAt: T0 },
      })),
      now: T0 + 1,
    });
    await store.cancel({ id: first[150]!.id, reason: "r", now: T0 + 1 });
    const queued = (await store.list({ state: "queued", limit: 5 })).map((j) => j.id);
    for (const id of queued) await store.cancel({ id, reason: "r", now: T0 + 1 });
    await store.rescueExpired({ now: T0 + LEASE_MS + 1, limit: 1000 });
    expect(await store.counts()).toEqual(await countedInTable());
    await store.prune(T0 + LEASE_MS + 2);
    expect(await store.counts()).toEqual(await countedInTable());
    const { rows } = await withClient((c) =>
      c.query<{ n: string }>(`SELECT count(*) AS n FROM "${fx.db.schema}".count_deltas`),
    );
    expect(Number(rows[0]!.n)).toBe(0); // prune compacted
  });

  it("prune removes more than one batch of finished jobs", async () => {
    const store = await fx.open();
    await store.configure({ groups: new Map(), retention: { maxAgeMs: 1e12, maxCount: 100 } });
    await store.enqueue({ jobs: makeJobs(12_100, T0), now: T0, maxQueued: null });
    for (;;) {
      const { jobs } = await claimAll(store, T0, 5000);
      if (jobs.length === 0) break;
      await store.settle({
        workerId: "w",
        settlements: jobs.map((j) => ({ id: j.id, attempt: j.attempt, outcome: done })),
        now: T0 + 1,
      });
    }
    expect(await store.prune(T0 + 2)).toBe(12_000);
    expect((await store.counts()).completed).toBe(100);
    // the newest are kept
    const kept = await store.list({ limit: 1000 });
    expect(kept).toHaveLength(100);
  });

  it("group limits configured by one process bind every process on the schema", async () => {
    const configurer = await fx.open();
    const other = await fx.open();
    await configurer.configure({
      groups: new Map([["g", { concurrency: 2 }]]),
      retention: { maxAgeMs: 1e12, maxCount: 1e9 },
    });
    await other.enqueue({ jobs: makeJobs(5, T0, { group: "g" }), now: T0, maxQueued: null });
    expect((await claimAll(other, T0)).jobs).toHaveLength(2);
    expect((await claimAll(configurer, T0)).jobs).toHaveLength(0);
    // raising the limit anywhere opens slots everywhere
    await configurer.configure({
      groups: new Map([["g", { concurrency: 3 }]]),
      retention: { maxAgeMs: 1e12, maxCount: 1e9 },
    });
    expect((await claimAll(other, T0)).jobs).toHaveLength(1);
  });

  it("a limit configured elsewhere binds a store whose earlier claims saw no limited group, and lifting it frees them", async () => {
    const retention = { maxAgeMs: 1e12, maxCount: 1e9 };
    const worker = await fx.open();
    const configurer = await fx.open();
    await worker.enqueue({ jobs: makeJobs(2, T0, { group: "g" }), now: T0, maxQueued: null });
    // no group is limited yet: both are claimed (the worker now expects no limits)
    expect((await claimAll(worker, T0)).jobs).toHaveLength(2);
    await configurer.configure({ groups: new Map([["g", { concurrency: 3 }]]), retention });
    await worker.enqueue({ jobs: makeJobs(3, T0, { group: "g" }), now: T0, maxQueued: null });
    // two of the three slots are held by the first claim
    expect((await claimAll(worker, T0)).jobs).toHaveLength(1);
    expect((await claimAll(worker, T0)).jobs).toHaveLength(0);
    // the limit lifted: the two left in the group, and two ungrouped jobs as before
    await configurer.configure({ groups: new Map([["g", {}]]), retention });
    await worker.enqueue({ jobs: makeJobs(2, T0), now: T0, maxQueued: null });
    expect((await claimAll(worker, T0)).jobs).toHaveLength(4);
    await worker.enqueue({ jobs: makeJobs(2, T0, { group: "g" }), now: T0, maxQueued: null });
    expect((await claimAll(worker, T0)).jobs).toHaveLength(2);
  });

  it("carries awkward strings through the batched array parameters unchanged", async () => {
    const store = await fx.open();
    const odd = ['a"b', "c\\d", "e,f", "{g}", "NULL", "", " sp ", "ünïcødé ✓", "new\nline", "tab\tx", "'q'"];
    const created = await store.enqueue({
      jobs: odd.map((s, i) =>
        makeJob(T0, { name: `n${i}${s}`, key: `k${s}`, group: s, inputJson: JSON.stringify({ s }) }),
      ),
      now: T0,
      maxQueued: null,
    });
    for (const [i, s] of odd.entries()) {
      const job = await store.get(created[i]!.id);
      expect(job).toMatchObject({ name: `n${i}${s}`, key: `k${s}`, group: s, input: { s } });
    }
    const again = await store.enqueue({
      jobs: odd.map((s) => makeJob(T0, { key: `k${s}` })),
      now: T0,
      maxQueued: null,
    });
    expect(again.map((r) => r.id)).toEqual(created.map((r) => r.id));
    expect(again.every((r) => !r.created)).toBe(true);
  });

  it("answers a settle batch holding the same job twice like the memory store: the second is refused", async () => {
    const store = await fx.open();
    await store.enqueue({ jobs: [makeJob(T0)], now: T0, maxQueued: null });
    const [job] = (await claimAll(store, T0)).jobs;
    const results = await store.settle({
      workerId: "w",
      settlements: [
        { id: job!.id, attempt: 1, outcome: done },
        { id: job!.id, attempt: 1, outcome: { kind: "failed", error: { name: "E", message: "x" } } },
        { id: "not-an-id", attempt: 1, outcome: done },
      ],
      now: T0 + 1,
    });
    expect(results).toEqual([
      { id: job!.id, applied: true, state: "completed" },
      { id: job!.id, applied: false, state: "completed" },
      { id: "not-an-id", applied: false, state: null },
    ]);
  });

  it("applies overlapping heartbeats in call order: the last checkpoint wins", async () => {
    const store = await fx.open({ poolSize: 8 });
    await store.enqueue({ jobs: [makeJob(T0)], now: T0, maxQueued: null });
    const [job] = (await claimAll(store, T0)).jobs;
    // fired without waiting, as a worker checkpointing every few ms does
    const beats = Array.from({ length: 50 }, (_, i) =>
      store.heartbeat({
        workerId: "w",
        entries: [{ id: job!.id, attempt: 1, checkpoint: { trial: i }, progress: i }],
        leaseMs: LEASE_MS,
        now: T0 + i,
      }),
    );
    const results = await Promise.all(beats);
    expect(results.every((r) => r.lost.length === 0)).toBe(true);
    const stored = await store.get(job!.id);
    expect(stored).toMatchObject({ checkpoint: { trial: 49 }, progress: 49, leaseExpiresAt: T0 + 49 + LEASE_MS });
  });

  it("stores times exactly as given, fractional milliseconds included", async () => {
    const store = await fx.open();
    const now = T0 + 0.25;
    const [created] = await store.enqueue({ jobs: [makeJob(now, { runAt: now + 0.5 })], now, maxQueued: null });
    const job = await store.get(created!.id);
    expect(job).toMatchObject({ createdAt: now, runAt: now + 0.5 });
    expect((await claimAll(store, now + 0.4)).jobs).toEqual([]);
    expect((await claimAll(store, now + 0.5)).jobs).toHaveLength(1);
  });
});
