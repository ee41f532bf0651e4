import { describe, expect, it } from "vitest";
import { QueueFullError } from "../../../src/core/errors.js";
import type { ClaimedJob, Store } from "../../../src/store/port.js";
import { T0, claimAll, jobs, startChild, useTempDb } from "./support.js";

const complete = (store: Store, workerId: string, claimed: readonly ClaimedJob[], now = T0) =>
  store.settle({
    workerId,
    settlements: claimed.map((j) => ({
      id: j.id,
      attempt: j.attempt,
      outcome: { kind: "completed", resultJson: "null" },
    })),
    now,
  });

describe("SqliteStore: several stores on one file", () => {
  const tmp = useTempDb();

  it("never hands the same job to two stores (2 stores × interleaved claims of 500 jobs)", async () => {
    const path = tmp.path();
    const a = await tmp.open({ path });
    const b = await tmp.open({ path });
    await a.enqueue({ jobs: jobs(500, T0), now: T0, maxQueued: null });
    const seen = new Map<string, string>();
    const worker = async (store: Store, workerId: string, batch: number): Promise<number> => {
      let taken = 0;
      for (;;) {
        const { jobs: claimed } = await claimAll(store, workerId, T0, batch);
        if (claimed.length === 0) return taken;
        for (const j of claimed) {
          expect(seen.get(j.id), `job ${j.id} claimed twice`).toBeUndefined();
          seen.set(j.id, workerId);
        }
        taken += claimed.length;
        await complete(store, workerId, claimed);
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const [na, nb] = await Promise.all([worker(a, "a", 7), worker(b, "b", 13)]);
    expect(na + nb).toBe(500);
    expect(na).toBeGreaterThan(0);
    expect(nb).toBeGreaterThan(0);
    expect(await b.counts()).toEqual({ queued: 0, running: 0, completed: 500, failed: 0, cancelled: 0 });
  });

  it("never hands the same job to two processes (3 processes woken together, claiming 1000 jobs one at a time)", async () => {
    const path = tmp.path();
    const store = await tmp.open({ path });
    const children = ["p1", "p2", "p3"].map((w) => startChild(["claim", path, w, "1"]));
    // every child is subscribed before the jobs exist, so all start claiming on the same wake-up
    await Promise.all(children.map((c) => c.ready));
    await store.enqueue({ jobs: jobs(1000, T0), now: T0, maxQueued: null });
    const results = await Promise.all(children.map((c) => c.done));
    const all: string[] = [];
    for (const r of results) {
      expect(r, r.stderr).toMatchObject({ code: 0 });
      all.push(...(JSON.parse(r.stdout) as string[]));
    }
    // how the jobs split between the processes is up to SQLite's lock (it is not fair); exactly-once is the point
    expect(all).toHaveLength(1000);
    expect(new Set(all).size).toBe(1000);
    expect(await store.counts()).toEqual({ queued: 0, running: 0, completed: 1000, failed: 0, cancelled: 0 });
  });

  it("shares group concurrency: slots taken through one store count in the other", async () => {
    const path = tmp.path();
    const a = await tmp.open({ path });
    const b = await tmp.open({ path });
    const config = { groups: new Map([["g", { concurrency: 3 }]]), retention: { maxAgeMs: 1e12, maxCount: 1e6 } };
    await a.configure(config);
    await b.configure(config);
    await a.enqueue({ jobs: jobs(10, T0, { group: "g" }), now: T0, maxQueued: null });
    const fromA = (await claimAll(a, "wa", T0, 2)).jobs;
    expect(fromA).toHaveLength(2);
    const fromB = (await claimAll(b, "wb", T0, 10)).jobs;
    expect(fromB).toHaveLength(1);
    expect((await claimAll(a, "wa", T0, 10)).jobs).toEqual([]);
    // a slot freed through b opens for a
    await complete(b, "wb", fromB);
    expect((await claimAll(a, "wa", T0 + 1, 10)).jobs).toHaveLength(1);
    expect((await claimAll(b, "wb", T0 + 1, 10)).jobs).toEqual([]);
  });

  it("applies the group limits configured by another process", async () => {
    const path = tmp.path();
    const a = await tmp.open({ path });
    const b = await tmp.open({ path });
    // only a configures; b enforces the same limits read from the file
    await a.configure({
      groups: new Map([["g", { rateLimit: { limit: 2, intervalMs: 1000 } }]]),
      retention: { maxAgeMs: 1e12, maxCount: 1e6 },
    });
    await a.enqueue({ jobs: jobs(5, T0, { group: "g" }), now: T0, maxQueued: null });
    expect((await claimAll(a, "wa", T0, 1)).jobs).toHaveLength(1);
    expect((await claimAll(b, "wb", T0 + 100, 10)).jobs).toHaveLength(1);
    const full = await claimAll(b, "wb", T0 + 200, 10);
    expect(full.jobs).toEqual([]);
    expect(full.nextRunAt).toBe(T0 + 1000);
    expect((await claimAll(a, "wa", T0 + 999, 10)).jobs).toEqual([]);
    expect((await claimAll(a, "wa", T0 + 1000, 10)).jobs).toHaveLength(1);
    expect((await claimAll(b, "wb", T0 + 1100, 10)).jobs).toHaveLength(1);
    expect((await claimAll(b, "wb", T0 + 1101, 10)).jobs).toEqual([]);
  });

  it("returns the existing job for a key enqueued through another store, and counts maxQueued across stores", async () => {
    const path = tmp.path();
    const a = await tmp.open({ path });
    const b = await tmp.open({ path });
    const [first] = await a.enqueue({ jobs: jobs(1, T0, { key: "once" }), now: T0, maxQueued: null });
    const again = await b.enqueue({
      jobs: [...jobs(1, T0, { key: "once" }), ...jobs(2, T0, { key: "twice" })],
      now: T0,
      maxQueued: null,
    });
    expect(again[0]).toEqual({ id: first!.id, created: false });
    expect(again[1]!.created).toBe(true);
    expect(again[2]).toEqual({ id: again[1]!.id, created: false });
    await a.enqueue({ jobs: jobs(2, T0), now: T0, maxQueued: 4 });
    await expect(b.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: 4 })).rejects.toBeInstanceOf(QueueFullError);
    // a key that already exists creates nothing, so it fits
    expect(await b.enqueue({ jobs: jobs(1, T0, { key: "once" }), now: T0, maxQueued: 4 })).toEqual([
      { id: first!.id, created: false },
    ]);
  });

  it("guards settles across stores: a job rescued and re-claimed through b refuses a's late settle", async () => {
    const path = tmp.path();
    const a = await tmp.open({ path });
    const b = await tmp.open({ path });
    await a.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null });
    const [mine] = (await claimAll(a, "wa", T0, 1)).jobs;
    expect((await b.rescueExpired({ now: T0 + 60_000, limit: 10 })).requeued).toEqual([mine!.id]);
    const [theirs] = (await claimAll(b, "wb", T0 + 60_001, 1)).jobs;
    expect(theirs).toMatchObject({ id: mine!.id, attempt: 2 });
    expect(await complete(a, "wa", [mine!])).toEqual([{ id: mine!.id, applied: false, state: "running" }]);
    expect(
      (await a.heartbeat({ workerId: "wa", entries: [{ id: mine!.id, attempt: 1 }], leaseMs: 1, now: T0 })).lost,
    ).toEqual([mine!.id]);
    expect(await complete(b, "wb", [theirs!])).toEqual([{ id: mine!.id, applied: true, state: "completed" }]);
    expect(await a.get(mine!.id)).toMatchObject({
      state: "completed",
      attempt: 2,
      errors: [{ attempt: 1, at: T0 + 60_000, error: { code: "OPTIQ_LEASE_LOST" } }],
    });
  });
});
