import { describe, expect, it } from "vitest";
import { makeJobs } from "../../support/job-factory.js";
import {
  type Harness,
  NO_LIMITS,
  Recorder,
  T0,
  add,
  claim,
  claimOne,
  completed,
  failed,
  retry,
  settleOne,
} from "../harness.js";

const LEASE = 10_000;

export function subscribeCases(h: Harness): void {
  describe("subscribe", () => {
    it("onAvailable fires after enqueue of a runnable job", async () => {
      const store = await h.open();
      const rec = new Recorder();
      await store.subscribe(rec);
      await add(store, T0);
      await rec.untilAvailable(1);
      expect(rec.available).toBeGreaterThanOrEqual(1);
    });

    it("onAvailable fires after a retry that is due, a rescue, and a freed group slot", async () => {
      const store = await h.open({ groups: new Map([["g", { concurrency: 1 }]]), retention: NO_LIMITS.retention });
      await add(store, T0);
      await store.enqueue({ jobs: makeJobs(2, T0, { group: "g", name: "grouped" }), now: T0, maxQueued: null });
      const plain = await claimOne(store, { now: T0, leaseMs: LEASE });
      const grouped = await claimOne(store, { now: T0, names: { grouped: 5 }, leaseMs: LEASE });

      const onRetry = new Recorder();
      const unsubRetry = await store.subscribe(onRetry);
      await settleOne(store, plain, retry(T0 + 1), T0 + 1);
      await onRetry.untilAvailable(1);
      await unsubRetry();

      const onSlot = new Recorder();
      const unsubSlot = await store.subscribe(onSlot);
      await settleOne(store, grouped, completed(), T0 + 2);
      await onSlot.untilAvailable(1);
      await unsubSlot();

      const again = await claimOne(store, { now: T0 + 3, leaseMs: LEASE });
      const onRescue = new Recorder();
      await store.subscribe(onRescue);
      expect((await store.rescueExpired({ now: T0 + 3 + LEASE + 1, limit: 10 })).requeued).toEqual([again.id]);
      await onRescue.untilAvailable(1);
    });

    it("onFinished receives ids of jobs that settle terminally, in one batch or several", async () => {
      const store = await h.open();
      await store.enqueue({ jobs: makeJobs(3, T0), now: T0, maxQueued: null });
      const { jobs } = await claim(store, { now: T0 });
      const [a, b, c] = jobs;
      const rec = new Recorder();
      await store.subscribe(rec);
      await store.settle({
        workerId: "w1",
        settlements: [
          { id: a!.id, attempt: 1, outcome: completed() },
          { id: b!.id, attempt: 1, outcome: failed() },
        ],
        now: T0 + 1,
      });
      await settleOne(store, c!, { kind: "cancelled", reason: "r" }, T0 + 2);
      await rec.untilFinished(a!.id, b!.id, c!.id);
      expect([...rec.finished].sort()).toEqual([a!.id, b!.id, c!.id].sort());
    });

    it("onFinished is not told about a retry, and is told when the retried job ends", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      const rec = new Recorder();
      await store.subscribe(rec);
      await settleOne(store, await claimOne(store, { now: T0 }), retry(T0 + 1), T0 + 1);
      await settleOne(store, await claimOne(store, { now: T0 + 1 }), completed(), T0 + 2);
      await rec.untilFinished(id);
      expect(rec.finished).toEqual([id]);
    });

    it("onFinished receives a queued job's id when it is cancelled", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      const rec = new Recorder();
      await store.subscribe(rec);
      expect(await store.cancel({ id, reason: "r", now: T0 + 1 })).toBe("cancelled");
      await rec.untilFinished(id);
      expect(rec.finished).toEqual([id]);
    });

    it("onFinished receives the id of a job a rescue fails", async () => {
      const store = await h.open();
      const id = await add(store, T0, { maxAttempts: 1 });
      await claimOne(store, { now: T0, leaseMs: LEASE });
      const rec = new Recorder();
      await store.subscribe(rec);
      expect((await store.rescueExpired({ now: T0 + LEASE + 1, limit: 10 })).failed).toEqual([id]);
      await rec.untilFinished(id);
      expect(rec.finished).toEqual([id]);
    });

    it("onCancelRequested receives a running job's id, and onFinished follows the settle", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      const job = await claimOne(store, { now: T0 });
      const rec = new Recorder();
      await store.subscribe(rec);
      expect(await store.cancel({ id, reason: "stop", now: T0 + 1 })).toBe("requested");
      await rec.untilCancelRequested(id);
      expect(rec.finished).toEqual([]);
      await settleOne(store, job, completed(), T0 + 2);
      await rec.untilFinished(id);
      expect(rec.cancelRequested).toContain(id);
    });

    it("stops delivery after unsubscribe, while other listeners keep receiving", async () => {
      const store = await h.open();
      const gone = new Recorder();
      const kept = new Recorder();
      const unsubscribe = await store.subscribe(gone);
      await store.subscribe(kept);
      await unsubscribe();

      const busy = await add(store, T0);
      const waiting = await add(store, T0);
      expect((await claimOne(store, { now: T0 })).id).toBe(busy);
      expect(await store.cancel({ id: waiting, reason: "r", now: T0 + 1 })).toBe("cancelled");
      expect(await store.cancel({ id: busy, reason: "r", now: T0 + 1 })).toBe("requested");
      await kept.untilAvailable(1);
      await kept.untilFinished(waiting);
      await kept.untilCancelRequested(busy);

      expect(gone.available).toBe(0);
      expect(gone.finished).toEqual([]);
      expect(gone.cancelRequested).toEqual([]);
    });
  });
}
