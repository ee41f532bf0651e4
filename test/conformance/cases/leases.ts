import { describe, expect, it } from "vitest";
import { makeJobs } from "../../support/job-factory.js";
import { type Harness, NO_LIMITS, T0, add, claim, claimOne, completed, must, settleOne } from "../harness.js";

const LEASE = 10_000;
const EXPIRED = T0 + LEASE + 1;

export function leaseCases(h: Harness): void {
  describe("expired leases", () => {
    it("leaves a job alone while its lease holds", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      await claimOne(store, { now: T0, leaseMs: LEASE });
      expect(await store.rescueExpired({ now: T0 + LEASE - 1, limit: 100 })).toEqual({
        requeued: [],
        failed: [],
        cancelled: [],
      });
      expect(await must(store, id)).toMatchObject({ state: "running", leaseOwner: "w1", attempt: 1 });
    });

    it("requeues an expired job with attempts left, recording OPTIQ_LEASE_LOST; the old worker is refused", async () => {
      const store = await h.open();
      const id = await add(store, T0, { maxAttempts: 2 });
      const first = await claimOne(store, { now: T0, workerId: "old", leaseMs: LEASE });
      expect(await store.rescueExpired({ now: EXPIRED, limit: 100 })).toEqual({
        requeued: [id],
        failed: [],
        cancelled: [],
      });
      const snap = await must(store, id);
      expect(snap).toMatchObject({ state: "queued", attempt: 1, finishedAt: null });
      expect(snap.error?.code).toBe("OPTIQ_LEASE_LOST");
      expect(snap.errors).toHaveLength(1);
      expect(snap.errors[0]).toMatchObject({ attempt: 1, at: EXPIRED, error: { code: "OPTIQ_LEASE_LOST" } });
      expect(await store.counts()).toMatchObject({ queued: 1, running: 0, failed: 0 });

      // the old worker comes back too late, before and after someone else claims it
      expect(await settleOne(store, first, completed(), EXPIRED + 1, "old")).toEqual({
        id,
        applied: false,
        state: "queued",
      });
      const second = await claimOne(store, { now: EXPIRED, workerId: "new", leaseMs: LEASE });
      expect(second).toMatchObject({ id, attempt: 2 });
      expect(await settleOne(store, first, completed(), EXPIRED + 2, "old")).toEqual({
        id,
        applied: false,
        state: "running",
      });
      const beat = await store.heartbeat({
        workerId: "old",
        entries: [{ id, attempt: 1 }],
        leaseMs: LEASE,
        now: EXPIRED + 3,
      });
      expect(beat.lost).toEqual([id]);
      expect(await must(store, id)).toMatchObject({ state: "running", attempt: 2, leaseOwner: "new" });
      expect((await settleOne(store, second, completed("ok"), EXPIRED + 4, "new")).applied).toBe(true);
      expect(await must(store, id)).toMatchObject({ state: "completed", result: "ok" });
    });

    it("fails an expired job on its last attempt", async () => {
      const store = await h.open();
      const id = await add(store, T0, { maxAttempts: 1 });
      const job = await claimOne(store, { now: T0, leaseMs: LEASE });
      expect(await store.rescueExpired({ now: EXPIRED, limit: 100 })).toEqual({
        requeued: [],
        failed: [id],
        cancelled: [],
      });
      const snap = await must(store, id);
      expect(snap).toMatchObject({ state: "failed", attempt: 1, finishedAt: EXPIRED });
      expect(snap.error?.code).toBe("OPTIQ_LEASE_LOST");
      expect(snap.errors.map((e) => [e.attempt, e.error.code])).toEqual([[1, "OPTIQ_LEASE_LOST"]]);
      expect(await settleOne(store, job, completed(), EXPIRED + 1)).toEqual({ id, applied: false, state: "failed" });
      expect((await claim(store, { now: EXPIRED + 1 })).jobs).toEqual([]);
      expect(await store.counts()).toMatchObject({ queued: 0, running: 0, failed: 1 });
    });

    it("cancels an expired job whose cancellation was requested", async () => {
      const store = await h.open();
      const id = await add(store, T0, { maxAttempts: 5 });
      const job = await claimOne(store, { now: T0, leaseMs: LEASE });
      expect(await store.cancel({ id, reason: "user asked", now: T0 + 1 })).toBe("requested");
      expect(await store.rescueExpired({ now: EXPIRED, limit: 100 })).toEqual({
        requeued: [],
        failed: [],
        cancelled: [id],
      });
      expect(await must(store, id)).toMatchObject({
        state: "cancelled",
        cancelReason: "user asked",
        finishedAt: EXPIRED,
      });
      expect(await settleOne(store, job, completed(), EXPIRED + 1)).toEqual({ id, applied: false, state: "cancelled" });
      expect((await claim(store, { now: EXPIRED + 1 })).jobs).toEqual([]);
    });

    it("does not rescue a job whose lease a heartbeat extended", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      await claimOne(store, { now: T0, leaseMs: LEASE });
      await store.heartbeat({ workerId: "w1", entries: [{ id, attempt: 1 }], leaseMs: LEASE, now: T0 + 8000 });
      expect(await store.rescueExpired({ now: EXPIRED, limit: 100 })).toEqual({
        requeued: [],
        failed: [],
        cancelled: [],
      });
      expect(await must(store, id)).toMatchObject({ state: "running", leaseOwner: "w1" });
      const later = await store.rescueExpired({ now: T0 + 8000 + LEASE + 1, limit: 100 });
      expect(later.requeued).toEqual([id]);
    });

    it("rescues at most `limit` jobs per call", async () => {
      const store = await h.open();
      await store.enqueue({ jobs: makeJobs(3, T0), now: T0, maxQueued: null });
      const { jobs } = await claim(store, { now: T0, leaseMs: LEASE });
      expect(jobs).toHaveLength(3);
      const first = await store.rescueExpired({ now: EXPIRED, limit: 2 });
      expect(first.requeued).toHaveLength(2);
      const second = await store.rescueExpired({ now: EXPIRED, limit: 2 });
      expect(second.requeued).toHaveLength(1);
      expect(new Set([...first.requeued, ...second.requeued])).toEqual(new Set(jobs.map((j) => j.id)));
      expect((await store.rescueExpired({ now: EXPIRED, limit: 2 })).requeued).toEqual([]);
    });

    it("ignores settled jobs", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      await settleOne(store, await claimOne(store, { now: T0, leaseMs: LEASE }), completed(), T0 + 1);
      expect(await store.rescueExpired({ now: EXPIRED, limit: 100 })).toEqual({
        requeued: [],
        failed: [],
        cancelled: [],
      });
      expect(await must(store, id)).toMatchObject({ state: "completed", errors: [] });
    });

    it("frees the group slot of a rescued job", async () => {
      const store = await h.open({ groups: new Map([["g", { concurrency: 1 }]]), retention: NO_LIMITS.retention });
      await store.enqueue({ jobs: makeJobs(2, T0, { group: "g", maxAttempts: 1 }), now: T0, maxQueued: null });
      await claimOne(store, { now: T0, leaseMs: LEASE });
      expect((await claim(store, { now: T0 + 1 })).jobs).toEqual([]);
      expect((await store.rescueExpired({ now: EXPIRED, limit: 100 })).failed).toHaveLength(1);
      expect((await claim(store, { now: EXPIRED })).jobs).toHaveLength(1);
    });
  });
}
