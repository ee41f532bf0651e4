import pg from "pg";
import { describe, expect, it } from "vitest";
import { QueueFullError } from "../../../src/core/errors.js";
import { makeJob, makeJobs } from "../../support/job-factory.js";
import { LEASE_MS, Recorder, T0, useSchema } from "./fixtures.js";

describe("PostgresStore.enqueueWith: enqueue inside the caller's transaction", () => {
  const fx = useSchema();

  async function client(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: fx.db.connectionString });
    c.on("error", () => undefined);
    await c.connect();
    return c;
  }

  it("rollback: the job never existed", async () => {
    const store = await fx.open();
    const c = await client();
    try {
      await c.query("BEGIN");
      const [created] = await store.enqueueWith(c, { jobs: [makeJob(T0, { key: "k" })], now: T0, maxQueued: null });
      expect(created?.created).toBe(true);
      // invisible to everyone else until commit
      expect(await store.get(created!.id)).toBeNull();
      await c.query("ROLLBACK");
      expect(await store.get(created!.id)).toBeNull();
      expect((await store.counts()).queued).toBe(0);
      // the key is free again
      const [again] = await store.enqueue({ jobs: [makeJob(T0, { key: "k" })], now: T0, maxQueued: null });
      expect(again?.created).toBe(true);
    } finally {
      await c.end();
    }
  });

  it("commit: the jobs exist, are claimable, and workers are woken at commit", async () => {
    const store = await fx.open({ pollIntervalMs: 0 });
    const rec = new Recorder();
    await store.subscribe(rec);
    const c = await client();
    try {
      await c.query("BEGIN");
      await c.query("CREATE TEMP TABLE orders (id int) ON COMMIT DROP");
      await c.query("INSERT INTO orders VALUES (1)");
      const created = await store.enqueueWith(c, { jobs: makeJobs(2, T0), now: T0, maxQueued: null });
      const before = await store.claim({
        workerId: "w",
        limit: 10,
        names: new Map([["t", 10]]),
        leaseMs: LEASE_MS,
        now: T0,
      });
      expect(before.jobs).toEqual([]);
      await c.query("COMMIT");
      await rec.untilAvailable(1);
      const after = await store.claim({
        workerId: "w",
        limit: 10,
        names: new Map([["t", 10]]),
        leaseMs: LEASE_MS,
        now: T0,
      });
      expect(after.jobs.map((j) => j.id)).toEqual(created.map((r) => r.id));
      expect((await store.counts()).running).toBe(2);
    } finally {
      await c.end();
    }
  });

  it("works with a pooled client, and maxQueued is checked inside the caller's transaction", async () => {
    const store = await fx.open();
    const pool = new pg.Pool({ connectionString: fx.db.connectionString, max: 2 });
    pool.on("error", () => undefined);
    try {
      const c = await pool.connect();
      try {
        await c.query("BEGIN");
        await store.enqueueWith(c, { jobs: makeJobs(2, T0), now: T0, maxQueued: 3 });
        await expect(store.enqueueWith(c, { jobs: makeJobs(2, T0), now: T0, maxQueued: 3 })).rejects.toBeInstanceOf(
          QueueFullError,
        );
        await c.query("ROLLBACK");
      } finally {
        c.release();
      }
      expect((await store.counts()).queued).toBe(0);
    } finally {
      await pool.end();
    }
  });
});
