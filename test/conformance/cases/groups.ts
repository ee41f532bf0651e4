import { describe, expect, it } from "vitest";
import type { GroupLimits, Store } from "../../../src/store/port.js";
import { makeJobs } from "../../support/job-factory.js";
import { type Harness, NO_LIMITS, T0, claim, completed, retry, settleOne } from "../harness.js";

const open = (h: Harness, groups: Record<string, GroupLimits>): Promise<Store> =>
  h.open({ groups: new Map(Object.entries(groups)), retention: NO_LIMITS.retention });

async function seed(store: Store, now: number, count: number, group: string | null): Promise<void> {
  await store.enqueue({ jobs: makeJobs(count, now, { group }), now, maxQueued: null });
}

const groupsOf = (jobs: readonly { group: string | null }[]): (string | null)[] =>
  jobs.map((j) => j.group).sort((a, b) => String(a).localeCompare(String(b)));

export function groupCases(h: Harness): void {
  describe("group concurrency", () => {
    it("runs at most `concurrency` jobs of a group across claims and workers; others are unaffected", async () => {
      const store = await open(h, { g: { concurrency: 2 } });
      await seed(store, T0, 5, "g");
      await seed(store, T0, 2, null);
      await seed(store, T0, 2, "h");
      const w1 = await claim(store, { now: T0, workerId: "w1", limit: 20 });
      expect(groupsOf(w1.jobs)).toEqual(["g", "g", "h", "h", null, null]);
      const w2 = await claim(store, { now: T0 + 1, workerId: "w2", limit: 20 });
      expect(w2.jobs).toEqual([]);
      const w3 = await claim(store, { now: T0 + 2, workerId: "w3", limit: 1 });
      expect(w3.jobs).toEqual([]);
      expect(await store.counts()).toMatchObject({ queued: 3, running: 6 });
    });

    it("counts slots across several small claims", async () => {
      const store = await open(h, { g: { concurrency: 2 } });
      await seed(store, T0, 4, "g");
      expect((await claim(store, { now: T0, workerId: "a", limit: 1 })).jobs).toHaveLength(1);
      expect((await claim(store, { now: T0, workerId: "b", limit: 1 })).jobs).toHaveLength(1);
      expect((await claim(store, { now: T0, workerId: "c", limit: 1 })).jobs).toHaveLength(0);
    });

    it("frees a slot when a job settles (completed or retry)", async () => {
      const store = await open(h, { g: { concurrency: 2 } });
      await seed(store, T0, 4, "g");
      const [a, b] = (await claim(store, { now: T0, workerId: "w1" })).jobs;
      expect(b).toBeDefined();
      expect((await claim(store, { now: T0, workerId: "w2" })).jobs).toEqual([]);

      await settleOne(store, a!, completed(), T0 + 10, "w1");
      const next = await claim(store, { now: T0 + 11, workerId: "w2" });
      expect(next.jobs).toHaveLength(1);
      expect((await claim(store, { now: T0 + 12, workerId: "w2" })).jobs).toEqual([]);

      await settleOne(store, b!, retry(T0 + 1000), T0 + 20, "w1");
      const afterRetry = await claim(store, { now: T0 + 21, workerId: "w3" });
      expect(afterRetry.jobs).toHaveLength(1);
      expect(afterRetry.jobs[0]!.id).not.toBe(b!.id);
      expect((await claim(store, { now: T0 + 22, workerId: "w3" })).jobs).toEqual([]);
      expect(await store.counts()).toMatchObject({ queued: 1, running: 2, completed: 1 });
    });

    it("reports nextRunAt null when only a freed slot can make work runnable", async () => {
      const store = await open(h, { g: { concurrency: 1 } });
      await seed(store, T0, 2, "g");
      expect((await claim(store, { now: T0 })).jobs).toHaveLength(1);
      const blocked = await claim(store, { now: T0 + 1 });
      expect(blocked.jobs).toEqual([]);
      expect(blocked.nextRunAt).toBeNull();
    });

    it("leaves groups without configured limits unlimited", async () => {
      const store = await open(h, { g: { concurrency: 1 } });
      await seed(store, T0, 4, "free");
      expect((await claim(store, { now: T0 })).jobs).toHaveLength(4);
    });
  });

  describe("group rate limit", () => {
    it("allows at most `limit` claims in any interval, across workers, and reports the next opening", async () => {
      const store = await open(h, { g: { rateLimit: { limit: 3, intervalMs: 1000 } } });
      await seed(store, T0, 10, "g");
      const take = async (now: number, workerId = "w1") =>
        (await claim(store, { now, workerId, limit: 1 })).jobs.length;

      expect(await take(T0, "w1")).toBe(1);
      expect(await take(T0 + 300, "w2")).toBe(1);
      expect(await take(T0 + 600, "w3")).toBe(1);
      const full = await claim(store, { now: T0 + 900, workerId: "w4" });
      expect(full.jobs).toEqual([]);
      expect(full.nextRunAt).toBe(T0 + 1000);
      expect(await take(T0 + 999)).toBe(0);

      expect(await take(T0 + 1000)).toBe(1);
      const again = await claim(store, { now: T0 + 1200 });
      expect(again.jobs).toEqual([]);
      expect(again.nextRunAt).toBe(T0 + 1300);
      expect(await take(T0 + 1300)).toBe(1);
      expect(await take(T0 + 1599)).toBe(0);
      expect(await take(T0 + 1600)).toBe(1);
      expect(await take(T0 + 1601)).toBe(0);
      expect(await store.counts()).toMatchObject({ queued: 4, running: 6 });
    });

    it("counts claims, not running jobs: settling does not open the window", async () => {
      const store = await open(h, { g: { rateLimit: { limit: 2, intervalMs: 1000 } } });
      await seed(store, T0, 5, "g");
      const { jobs } = await claim(store, { now: T0 });
      expect(jobs).toHaveLength(2);
      for (const job of jobs) await settleOne(store, job, completed(), T0 + 10);
      expect((await claim(store, { now: T0 + 20 })).jobs).toEqual([]);
      expect((await claim(store, { now: T0 + 1000 })).jobs).toHaveLength(2);
    });

    it("reports the next opening when one claim uses up the window", async () => {
      const store = await open(h, { g: { rateLimit: { limit: 3, intervalMs: 1000 } } });
      await seed(store, T0, 5, "g");
      const first = await claim(store, { now: T0, limit: 10 });
      expect(first.jobs).toHaveLength(3);
      expect(first.nextRunAt).toBe(T0 + 1000);
    });

    it("does not slow down jobs without a group or in other groups", async () => {
      const store = await open(h, { g: { rateLimit: { limit: 1, intervalMs: 60_000 } } });
      await seed(store, T0, 3, "g");
      await seed(store, T0, 3, null);
      await seed(store, T0, 3, "h");
      const { jobs } = await claim(store, { now: T0, limit: 20 });
      expect(groupsOf(jobs)).toEqual(["g", "h", "h", "h", null, null, null]);
    });

    it("combines with concurrency: both bounds hold", async () => {
      const store = await open(h, { g: { concurrency: 1, rateLimit: { limit: 2, intervalMs: 1000 } } });
      await seed(store, T0, 5, "g");
      const [a] = (await claim(store, { now: T0 })).jobs;
      expect(a).toBeDefined();
      expect((await claim(store, { now: T0 + 1 })).jobs).toEqual([]);
      await settleOne(store, a!, completed(), T0 + 2);
      const [b] = (await claim(store, { now: T0 + 3 })).jobs;
      expect(b).toBeDefined();
      await settleOne(store, b!, completed(), T0 + 4);
      const limited = await claim(store, { now: T0 + 5 });
      expect(limited.jobs).toEqual([]);
      expect(limited.nextRunAt).toBe(T0 + 1000);
      expect((await claim(store, { now: T0 + 1000 })).jobs).toHaveLength(1);
    });
  });
}
