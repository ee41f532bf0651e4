import { describe, expect, it } from "vitest";
import type { HeartbeatEntry, Store } from "../../../src/store/port.js";
import { type Harness, T0, add, claimOne, completed, must, retry, settleOne } from "../harness.js";

function beat(store: Store, entries: HeartbeatEntry[], now: number, workerId = "w1", leaseMs = 10_000) {
  return store.heartbeat({ workerId, entries, leaseMs, now });
}

export function heartbeatCases(h: Harness): void {
  describe("heartbeat", () => {
    it("extends the lease from now", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      const job = await claimOne(store, { now: T0, leaseMs: 10_000 });
      expect(job.leaseExpiresAt).toBe(T0 + 10_000);
      expect(await beat(store, [{ id, attempt: 1 }], T0 + 8000, "w1", 10_000)).toEqual({
        lost: [],
        cancelRequested: [],
      });
      expect(await must(store, id)).toMatchObject({ state: "running", leaseOwner: "w1", leaseExpiresAt: T0 + 18_000 });
    });

    it("stores progress with lastProgressAt, and leaves both alone when an entry carries none", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      await claimOne(store, { now: T0 });
      expect(await must(store, id)).toMatchObject({ progress: null, lastProgressAt: null });
      await beat(store, [{ id, attempt: 1, progress: { pct: 50, stage: "fitting — 🧮" } }], T0 + 100);
      expect(await must(store, id)).toMatchObject({
        progress: { pct: 50, stage: "fitting — 🧮" },
        lastProgressAt: T0 + 100,
      });
      await beat(store, [{ id, attempt: 1 }], T0 + 200);
      expect(await must(store, id)).toMatchObject({
        progress: { pct: 50, stage: "fitting — 🧮" },
        lastProgressAt: T0 + 100,
      });
      await beat(store, [{ id, attempt: 1, progress: 75 }], T0 + 300);
      expect(await must(store, id)).toMatchObject({ progress: 75, lastProgressAt: T0 + 300 });
    });

    it("stores the checkpoint, and the claim after a retry receives it", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      const first = await claimOne(store, { now: T0 });
      expect(first.checkpoint).toBeNull();
      await beat(store, [{ id, attempt: 1, checkpoint: { step: 2, best: [0.5, 1.5] } }], T0 + 100);
      expect((await must(store, id)).checkpoint).toEqual({ step: 2, best: [0.5, 1.5] });
      await beat(store, [{ id, attempt: 1, progress: 10 }], T0 + 150);
      expect((await must(store, id)).checkpoint).toEqual({ step: 2, best: [0.5, 1.5] });
      await settleOne(store, first, retry(T0 + 200), T0 + 150);
      const second = await claimOne(store, { now: T0 + 200 });
      expect(second).toMatchObject({ id, attempt: 2, checkpoint: { step: 2, best: [0.5, 1.5] } });
    });

    it("reports the job lost to a worker that does not hold it, and extends nothing", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      await claimOne(store, { now: T0, workerId: "w1", leaseMs: 10_000 });
      const result = await beat(store, [{ id, attempt: 1, progress: 99, checkpoint: "x" }], T0 + 5000, "w2");
      expect(result).toEqual({ lost: [id], cancelRequested: [] });
      expect(await must(store, id)).toMatchObject({
        leaseOwner: "w1",
        leaseExpiresAt: T0 + 10_000,
        progress: null,
        checkpoint: null,
      });
    });

    it("reports lost for a wrong attempt, an unknown id, and a finished job, next to a valid entry", async () => {
      const store = await h.open();
      const done = await add(store, T0);
      const live = await add(store, T0);
      const doneJob = await claimOne(store, { now: T0 });
      expect(doneJob.id).toBe(done);
      await claimOne(store, { now: T0 });
      await settleOne(store, doneJob, completed(), T0 + 1);
      const result = await beat(
        store,
        [
          { id: live, attempt: 2 },
          { id: "987654321", attempt: 1 },
          { id: done, attempt: 1 },
          { id: live, attempt: 1 },
        ],
        T0 + 2,
      );
      expect([...result.lost].sort()).toEqual([live, "987654321", done].sort());
      expect(result.cancelRequested).toEqual([]);
      expect((await must(store, live)).leaseExpiresAt).toBe(T0 + 2 + 10_000);
      expect((await must(store, done)).state).toBe("completed");
    });
  });
}
