import { describe, expect, it } from "vitest";
import { makeJob, makeJobs } from "../../support/job-factory.js";
import { type Harness, LEASE_MS, T0, add, addEach, claim, drainIds, must } from "../harness.js";

export function claimCases(h: Harness): void {
  describe("claim", () => {
    it("takes only names listed with a budget above zero", async () => {
      const store = await h.open();
      const a = await addEach(store, T0, [{ name: "a" }, { name: "a" }, { name: "a" }]);
      const b = await addEach(store, T0, [{ name: "b" }, { name: "b" }]);
      const c = await addEach(store, T0, [{ name: "c" }, { name: "c" }]);
      const first = await claim(store, { now: T0, limit: 10, names: { a: 2, b: 0 } });
      expect(first.jobs.map((j) => j.id).sort()).toEqual([a[0], a[1]].sort());
      const second = await claim(store, { now: T0, limit: 10, names: { b: 5, c: 1 } });
      expect(second.jobs.map((j) => j.name).sort()).toEqual(["b", "b", "c"]);
      expect(
        second.jobs
          .filter((j) => j.name === "b")
          .map((j) => j.id)
          .sort(),
      ).toEqual([...b].sort());
      expect(c).toContain(second.jobs.find((j) => j.name === "c")!.id);
      expect(await store.counts()).toMatchObject({ queued: 2, running: 5 });
    });

    it("returns nothing when the worker runs none of the queued names", async () => {
      const store = await h.open();
      await add(store, T0, { name: "a" });
      const result = await claim(store, { now: T0, names: { other: 5 } });
      expect(result.jobs).toEqual([]);
      expect(result.nextRunAt).toBeNull();
      expect((await store.counts()).queued).toBe(1);
    });

    it("respects limit", async () => {
      const store = await h.open();
      await store.enqueue({ jobs: makeJobs(5, T0), now: T0, maxQueued: null });
      const { jobs } = await claim(store, { now: T0, limit: 2 });
      expect(jobs).toHaveLength(2);
      expect(await store.counts()).toMatchObject({ queued: 3, running: 2 });
    });

    it("applies per-name budgets together with limit", async () => {
      const store = await h.open();
      await store.enqueue({
        jobs: [...makeJobs(3, T0, { name: "a" }), ...makeJobs(3, T0, { name: "b" })],
        now: T0,
        maxQueued: null,
      });
      const { jobs } = await claim(store, { now: T0, limit: 10, names: { a: 1, b: 1 } });
      expect(jobs.map((j) => j.name).sort()).toEqual(["a", "b"]);
      const more = await claim(store, { now: T0, limit: 3, names: { a: 10, b: 10 } });
      expect(more.jobs).toHaveLength(3);
    });

    it("does not hand a running job to another claim", async () => {
      const store = await h.open();
      await store.enqueue({ jobs: makeJobs(3, T0), now: T0, maxQueued: null });
      const w1 = await claim(store, { now: T0, workerId: "w1" });
      expect(w1.jobs).toHaveLength(3);
      const w2 = await claim(store, { now: T0 + 1, workerId: "w2" });
      expect(w2.jobs).toEqual([]);
    });

    it("orders by priority, higher first, then submission order", async () => {
      const store = await h.open();
      const [x, y, z, w, v] = await addEach(store, T0, [
        { priority: 0 },
        { priority: 5 },
        { priority: -1 },
        { priority: 5 },
        { priority: 0 },
      ]);
      expect(await drainIds(store, { now: T0 })).toEqual([y, w, x, v, z]);
    });

    it("orders equal priorities by runAt, earlier first, before submission order", async () => {
      const store = await h.open();
      const [late, early, middle] = await addEach(store, T0, [{ runAt: T0 }, { runAt: T0 - 500 }, { runAt: T0 - 200 }]);
      expect(await drainIds(store, { now: T0 })).toEqual([early, middle, late]);
    });

    it("lets a higher priority go first even when its runAt is later", async () => {
      const store = await h.open();
      const [low, high] = await addEach(store, T0, [
        { priority: 0, runAt: T0 - 10_000 },
        { priority: 1, runAt: T0 },
      ]);
      expect(await drainIds(store, { now: T0 })).toEqual([high, low]);
    });

    it("returns the claimed job's fields and marks it running, leased to the worker", async () => {
      const store = await h.open();
      const id = await add(store, T0 - 100, {
        name: "t",
        inputJson: '{"n":1}',
        priority: 3,
        runAt: T0 - 50,
        maxAttempts: 4,
        timeoutMs: 9000,
        backoff: { type: "exponential", baseMs: 100, maxMs: 1000, jitter: false },
        key: "k",
        group: "g",
      });
      const { jobs } = await claim(store, { now: T0, workerId: "worker-7", leaseMs: 12_345 });
      expect(jobs).toEqual([
        {
          id,
          name: "t",
          input: { n: 1 },
          attempt: 1,
          maxAttempts: 4,
          priority: 3,
          timeoutMs: 9000,
          backoff: { type: "exponential", baseMs: 100, maxMs: 1000, jitter: false },
          key: "k",
          group: "g",
          createdAt: T0 - 100,
          runAt: T0 - 50,
          checkpoint: null,
          leaseExpiresAt: T0 + 12_345,
        },
      ]);
      expect(await must(store, id)).toMatchObject({
        state: "running",
        attempt: 1,
        startedAt: T0,
        finishedAt: null,
        leaseOwner: "worker-7",
        leaseExpiresAt: T0 + 12_345,
        cancelRequested: false,
      });
      expect(await store.counts()).toMatchObject({ queued: 0, running: 1 });
    });
  });

  describe("delayed jobs", () => {
    it("are not claimed before runAt, and are claimed at runAt", async () => {
      const store = await h.open();
      const id = await add(store, T0, { runAt: T0 + 5000 });
      const early = await claim(store, { now: T0 });
      expect(early.jobs).toEqual([]);
      expect(early.nextRunAt).toBe(T0 + 5000);
      expect((await claim(store, { now: T0 + 4999 })).jobs).toEqual([]);
      const due = await claim(store, { now: T0 + 5000 });
      expect(due.jobs.map((j) => j.id)).toEqual([id]);
      expect(due.jobs[0]!.runAt).toBe(T0 + 5000);
      expect(due.jobs[0]!.leaseExpiresAt).toBe(T0 + 5000 + LEASE_MS);
    });

    it("are claimed after runAt has passed, in runAt order", async () => {
      const store = await h.open();
      const [later, sooner] = await addEach(store, T0, [{ runAt: T0 + 3000 }, { runAt: T0 + 2000 }]);
      expect(await drainIds(store, { now: T0 + 10_000 })).toEqual([sooner, later]);
    });

    it("nextRunAt reports the earliest delayed runAt", async () => {
      const store = await h.open();
      await store.enqueue({
        jobs: [makeJob(T0, { runAt: T0 + 7000 }), makeJob(T0, { runAt: T0 + 3000 }), makeJob(T0, { runAt: T0 + 9000 })],
        now: T0,
        maxQueued: null,
      });
      const first = await claim(store, { now: T0 });
      expect(first.jobs).toEqual([]);
      expect(first.nextRunAt).toBe(T0 + 3000);
      const second = await claim(store, { now: T0 + 3000 });
      expect(second.jobs).toHaveLength(1);
      const third = await claim(store, { now: T0 + 3001 });
      expect(third.jobs).toEqual([]);
      expect(third.nextRunAt).toBe(T0 + 7000);
    });

    it("nextRunAt is reported alongside runnable jobs when fewer than asked came back", async () => {
      const store = await h.open();
      const now1 = await add(store, T0);
      await add(store, T0, { runAt: T0 + 4000 });
      const result = await claim(store, { now: T0, limit: 5 });
      expect(result.jobs.map((j) => j.id)).toEqual([now1]);
      expect(result.nextRunAt).toBe(T0 + 4000);
    });

    it("nextRunAt is null when nothing is delayed", async () => {
      const store = await h.open();
      expect((await claim(store, { now: T0 })).nextRunAt).toBeNull();
      await add(store, T0);
      const result = await claim(store, { now: T0, limit: 5 });
      expect(result.jobs).toHaveLength(1);
      expect(result.nextRunAt).toBeNull();
    });

    it("nextRunAt ignores a delayed job that was cancelled", async () => {
      const store = await h.open();
      const soon = await add(store, T0, { runAt: T0 + 5000 });
      await add(store, T0, { runAt: T0 + 9000 });
      expect(await store.cancel({ id: soon, reason: "no", now: T0 + 1 })).toBe("cancelled");
      const result = await claim(store, { now: T0 + 2 });
      expect(result.jobs).toEqual([]);
      expect(result.nextRunAt).toBe(T0 + 9000);
    });
  });
}
