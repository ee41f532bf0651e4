import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StoreError } from "../../../src/core/errors.js";
import type { PostgresStore } from "../../../src/stores/postgres/index.js";
import { makeJob, makeJobs } from "../../support/job-factory.js";
import { terminateBackends, withClient } from "../../support/pg.js";
import { LEASE_MS, Recorder, T0, Waiter, useSchema } from "./fixtures.js";

const done = { kind: "completed", resultJson: "null" } as const;

describe("PostgresStore: connections terminated mid-run (pg_terminate_backend)", () => {
  const fx = useSchema();
  const unhandled: unknown[] = [];
  const onUnhandled = (error: unknown): void => {
    unhandled.push(error);
  };
  beforeEach(() => {
    unhandled.length = 0;
    process.on("uncaughtException", onUnhandled);
    process.on("unhandledRejection", onUnhandled);
  });
  afterEach(() => {
    process.off("uncaughtException", onUnhandled);
    process.off("unhandledRejection", onUnhandled);
    expect(unhandled).toEqual([]);
  });

  /** A unique application_name per store, so a test can terminate exactly its connections. */
  function appName(tag: string): string {
    return `oq_${fx.db.schema.slice(-10)}_${tag}`;
  }

  it("a pooled connection is never without an error listener, even the moment the pool hands it out", async () => {
    const store = await fx.open({ pollIntervalMs: 0 });
    const pool = (store as unknown as { pool: import("pg").Pool }).pool;
    // pg-pool detaches its idle listener on checkout; a FATAL parsed before the caller attaches its own
    // (same socket chunk as the handshake) must still find a listener
    const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    const counts = clients.map((c) => c.listenerCount("error"));
    for (const c of clients) c.release();
    for (const n of counts) expect(n).toBeGreaterThan(0);
  });

  it("the listener reconnects after its connection is killed, fires onAvailable once, and keeps delivering", async () => {
    const name = appName("lis");
    const watcher = await fx.open({ pollIntervalMs: 0, applicationName: name });
    const writer = await fx.open({ pollIntervalMs: 0 });
    const rec = new Recorder();
    await watcher.subscribe(rec);
    const pidBefore = watcher.listenerInfo.pid;
    expect(pidBefore).not.toBeNull();

    expect(await terminateBackends(`${name}:listen`)).toBe(1);
    // the reconnect tells the listener it may have missed notifications
    await rec.untilAvailable(1);
    await rec.untilResync(1);
    expect(rec.resyncs).toBe(1);
    expect(watcher.listenerInfo.reconnects).toBe(1);
    expect(watcher.listenerInfo.pid).not.toBe(pidBefore);

    // and notifications flow again on the new connection
    const [created] = await writer.enqueue({ jobs: [makeJob(T0)], now: T0, maxQueued: null });
    expect(await writer.cancel({ id: created!.id, reason: "r", now: T0 })).toBe("cancelled");
    await rec.untilFinished([created!.id]);
  });

  it("survives the listener being killed repeatedly", async () => {
    const name = appName("rep");
    const watcher = await fx.open({ pollIntervalMs: 0, applicationName: name });
    const writer = await fx.open({ pollIntervalMs: 0 });
    const rec = new Recorder();
    await watcher.subscribe(rec);
    for (let i = 1; i <= 3; i++) {
      // onAvailable from the reconnect comes once LISTEN is live again: only then kill it again
      expect(await terminateBackends(`${name}:listen`)).toBe(1);
      await rec.untilAvailable(i);
    }
    expect(watcher.listenerInfo.reconnects).toBe(3);
    expect(rec.resyncs).toBe(3);
    const [created] = await writer.enqueue({ jobs: [makeJob(T0)], now: T0, maxQueued: null });
    await writer.cancel({ id: created!.id, reason: "r", now: T0 });
    await rec.untilFinished([created!.id]);
  });

  it("pool connections killed while idle: reads and claims retry at once, and once the pool has dropped them every operation succeeds", async () => {
    const name = appName("idle");
    const errors: unknown[] = [];
    const dropped = new Waiter();
    const store = await fx.open({
      applicationName: name,
      pollIntervalMs: 0,
      onError: (error) => {
        errors.push(error);
        dropped.notify();
      },
    });
    // open several pooled connections, then kill them all
    await Promise.all(Array.from({ length: 4 }, () => store.counts()));
    const killed = await terminateBackends(name);
    expect(killed).toBeGreaterThan(0);
    // a read right away may meet a dead connection: it is retried on another
    expect(await store.counts()).toMatchObject({ queued: 0 });
    // the pool reports each dead idle connection (and drops it)
    await dropped.until(() => errors.length >= killed - 1, "the pool to drop the killed connections");

    const created = await store.enqueue({ jobs: makeJobs(3, T0), now: T0, maxQueued: null });
    const { jobs } = await store.claim({
      workerId: "w",
      limit: 3,
      names: new Map([["t", 3]]),
      leaseMs: LEASE_MS,
      now: T0,
    });
    expect(jobs.map((j) => j.id)).toEqual(created.map((c) => c.id));
    const settled = await store.settle({
      workerId: "w",
      settlements: jobs.map((j) => ({ id: j.id, attempt: j.attempt, outcome: done })),
      now: T0 + 1,
    });
    expect(settled.every((s) => s.applied)).toBe(true);
    expect(await store.counts()).toMatchObject({ completed: 3, queued: 0, running: 0 });
  });

  it("pool and listener connections killed over and over during a two-store workload: every job completes exactly once", async () => {
    const nameA = appName("wa");
    const nameB = appName("wb");
    const a = await fx.open({ applicationName: nameA, pollIntervalMs: 50 });
    const b = await fx.open({ applicationName: nameB, pollIntervalMs: 50 });
    const recA = new Recorder();
    await a.subscribe(recA);
    const total = 400;
    await a.enqueue({ jobs: makeJobs(total, T0, { maxAttempts: 1000 }), now: T0, maxQueued: null });

    const completions = new Map<string, number>();
    const storeErrors: unknown[] = [];
    let stop = false;
    let now = T0;

    const work = async (store: PostgresStore, worker: string): Promise<void> => {
      while (!stop) {
        try {
          now += 1;
          const { jobs } = await store.claim({
            workerId: worker,
            limit: 10,
            names: new Map([["t", 10]]),
            leaseMs: 1_000,
            now,
          });
          if (jobs.length === 0) {
            // jobs whose settle was lost stay leased: expire them, as the rescue timer would
            now += 2_000;
            await store.rescueExpired({ now, limit: 100 });
            const counts = await store.counts();
            if (counts.completed === total) return;
            continue;
          }
          const results = await store.settle({
            workerId: worker,
            settlements: jobs.map((j) => ({ id: j.id, attempt: j.attempt, outcome: done })),
            now,
          });
          for (const r of results) if (r.applied) completions.set(r.id, (completions.get(r.id) ?? 0) + 1);
        } catch (error) {
          // a lost connection may surface, as a StoreError, from an operation that cannot be retried
          if (!(error instanceof StoreError)) throw error;
          storeErrors.push(error);
        }
      }
    };

    let killed = 0;
    const killer = (async () => {
      for (let i = 0; i < 15 && !stop; i++) {
        killed += await terminateBackends(i % 3 === 0 ? `${nameA}:listen` : i % 2 === 0 ? nameA : nameB);
        // let some work happen between kills (a round trip, not a timer)
        await withClient((c) => c.query("SELECT 1"));
      }
    })();

    await Promise.all([work(a, "wa1"), work(a, "wa2"), work(b, "wb1"), work(b, "wb2")]).finally(() => {
      stop = true;
    });
    await killer;
    expect(killed).toBeGreaterThan(0);

    const counts = await b.counts();
    expect(counts).toMatchObject({ completed: total, queued: 0, running: 0, failed: 0 });
    // a settle the client saw fail may have committed, but none applied twice
    expect([...completions.values()].every((n) => n === 1)).toBe(true);
    const { rows } = await withClient((c) =>
      c.query<{ n: string }>(`SELECT count(*) AS n FROM "${fx.db.schema}".jobs WHERE state = 'completed'`),
    );
    expect(Number(rows[0]!.n)).toBe(total);
    // and the listener works again: a new subscriber resolves once LISTEN is live (it may still
    // have been reconnecting when the workload ended), then hears a write from the other store
    const after = new Recorder();
    await a.subscribe(after);
    const [created] = await b.enqueue({ jobs: [makeJob(T0)], now: T0, maxQueued: null });
    await b.cancel({ id: created!.id, reason: "r", now: T0 });
    await after.untilFinished([created!.id]);
    await recA.untilFinished([created!.id]);
    for (const e of storeErrors) expect((e as StoreError).cause).toBeDefined();
  });

  it("a statement interrupted by the kill is retried once for reads and claims", async () => {
    const name = appName("mid");
    const store = await fx.open({ applicationName: name, poolSize: 1, pollIntervalMs: 0 });
    await store.enqueue({ jobs: makeJobs(2, T0), now: T0, maxQueued: null });
    // a long read on the only pooled connection, killed while it runs
    const slow = (
      store as unknown as {
        run: (op: string, st: { text: string }, v: unknown[], retry: boolean) => Promise<unknown[]>;
      }
    ).run("get", { text: "SELECT pg_sleep(0.3) IS NULL AS slept" }, [], true);
    await withClient(async (c) => {
      for (;;) {
        const { rows } = await c.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'SELECT pg_sleep%' AND state = 'active'",
          [name],
        );
        if (Number(rows[0]!.n) === 1) break;
      }
    });
    expect(await terminateBackends(name)).toBe(1);
    await expect(slow).resolves.toEqual([{ slept: false }]);
    const { jobs } = await store.claim({
      workerId: "w",
      limit: 2,
      names: new Map([["t", 2]]),
      leaseMs: LEASE_MS,
      now: T0,
    });
    expect(jobs).toHaveLength(2);
  });
});
