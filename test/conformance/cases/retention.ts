import { describe, expect, it } from "vitest";
import type { Retention, Store } from "../../../src/store/port.js";
import { makeJob } from "../../support/job-factory.js";
import { type Harness, T0, add, addEach, claimOne, completed, failed, settleOne } from "../harness.js";

const HOUR = 3600_000;

const open = (h: Harness, retention: Retention): Promise<Store> => h.open({ groups: new Map(), retention });

/** Claims the only job named `name` and completes it at `now`; returns its id. */
async function finish(store: Store, name: string, now: number): Promise<string> {
  const job = await claimOne(store, { now, names: { [name]: 1 } });
  expect((await settleOne(store, job, completed(name), now)).applied).toBe(true);
  return job.id;
}

const exists = async (store: Store, id: string): Promise<boolean> => (await store.get(id)) !== null;

export function retentionCases(h: Harness): void {
  describe("retention", () => {
    it("keeps at most maxCount finished jobs, removing the earliest finished first", async () => {
      const store = await open(h, { maxAgeMs: 24 * HOUR, maxCount: 2 });
      const [a, b, c, d] = await addEach(store, T0, [{ name: "a" }, { name: "b" }, { name: "c" }, { name: "d" }]);
      // c finishes first although it was submitted after a and b
      await finish(store, "c", T0 + 1);
      await finish(store, "a", T0 + 2);
      await finish(store, "b", T0 + 3);
      await store.prune(T0 + 4);
      expect([await exists(store, c!), await exists(store, a!), await exists(store, b!)]).toEqual([false, true, true]);
      expect(await exists(store, d!)).toBe(true);
      await finish(store, "d", T0 + 5);
      await store.prune(T0 + 6);
      expect([await exists(store, a!), await exists(store, b!), await exists(store, d!)]).toEqual([false, true, true]);
      expect(await store.counts()).toEqual({ queued: 0, running: 0, completed: 2, failed: 0, cancelled: 0 });
      expect((await store.list({ limit: 100 })).map((j) => j.id).sort()).toEqual([b, d].sort());
    });

    it("counts failed and cancelled jobs as finished", async () => {
      const store = await open(h, { maxAgeMs: 24 * HOUR, maxCount: 1 });
      const x = await add(store, T0);
      const y = await add(store, T0);
      const z = await add(store, T0);
      expect(await store.cancel({ id: x, reason: "r", now: T0 + 1 })).toBe("cancelled");
      const job = await claimOne(store, { now: T0 + 2 });
      expect(job.id).toBe(y);
      await settleOne(store, job, failed(), T0 + 2);
      await store.prune(T0 + 3);
      expect([await exists(store, x), await exists(store, y), await exists(store, z)]).toEqual([false, true, true]);
      expect(await store.counts()).toEqual({ queued: 1, running: 0, completed: 0, failed: 1, cancelled: 0 });
    });

    it("removes finished jobs older than maxAgeMs, measured from when they finished", async () => {
      const store = await open(h, { maxAgeMs: HOUR, maxCount: 1000 });
      const [early, late] = await addEach(store, T0, [{ name: "early" }, { name: "late" }]);
      await finish(store, "early", T0 + 1000);
      await finish(store, "late", T0 + 1000 + HOUR / 2);
      expect(await store.prune(T0 + 1000 + HOUR + 10)).toBe(1);
      expect(await exists(store, early!)).toBe(false);
      // created more than maxAgeMs ago, but finished only half an hour ago
      expect(await exists(store, late!)).toBe(true);
      expect(await store.prune(T0 + 1000 + HOUR + 20)).toBe(0);
      expect(await store.prune(T0 + 3 * HOUR)).toBe(1);
      expect(await exists(store, late!)).toBe(false);
      expect(await store.counts()).toEqual({ queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 });
    });

    it("never prunes queued or running jobs, however old", async () => {
      const store = await open(h, { maxAgeMs: 1000, maxCount: 1 });
      const [running, retried, delayed, done] = await addEach(store, T0, [
        { name: "running" },
        { name: "retried" },
        { name: "delayed", runAt: T0 + 10 * HOUR },
        { name: "done" },
      ]);
      expect((await claimOne(store, { now: T0, names: { running: 1 } })).id).toBe(running);
      const r = await claimOne(store, { now: T0, names: { retried: 1 } });
      await settleOne(store, r, { kind: "retry", error: { name: "E", message: "m" }, runAt: T0 + 10 * HOUR }, T0);
      await finish(store, "done", T0);
      await store.prune(T0 + 5 * HOUR);
      expect(await exists(store, done!)).toBe(false);
      for (const id of [running, retried, delayed]) expect(await exists(store, id!)).toBe(true);
      expect(await store.counts()).toEqual({ queued: 2, running: 1, completed: 0, failed: 0, cancelled: 0 });
    });

    it("frees the idempotency key of a pruned job", async () => {
      const store = await open(h, { maxAgeMs: 1000, maxCount: 1000 });
      const first = await add(store, T0, { key: "nightly" });
      await finish(store, "t", T0 + 10);
      await store.prune(T0 + 5000);
      expect(await exists(store, first)).toBe(false);
      const [again] = await store.enqueue({
        jobs: [makeJob(T0 + 5000, { key: "nightly" })],
        now: T0 + 5000,
        maxQueued: null,
      });
      expect(again!.created).toBe(true);
      expect(again!.id).not.toBe(first);
      expect(await store.get(again!.id)).toMatchObject({ state: "queued", key: "nightly" });
    });
  });
}
