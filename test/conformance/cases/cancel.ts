import { describe, expect, it } from "vitest";
import type { Outcome } from "../../../src/store/port.js";
import {
  type Harness,
  T0,
  add,
  cancelled,
  claim,
  claimOne,
  completed,
  failed,
  must,
  retry,
  settleOne,
} from "../harness.js";

const ANY_OUTCOME: readonly [string, Outcome][] = [
  ["completed", completed("done anyway")],
  ["failed", failed()],
  ["retry", retry(T0 + 10)],
  ["cancelled", cancelled("handler saw the signal")],
];

export function cancelCases(h: Harness): void {
  describe("cancel", () => {
    it("cancels a queued job at once; it is never claimed", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      const other = await add(store, T0);
      expect(await store.cancel({ id, reason: "not needed", now: T0 + 5 })).toBe("cancelled");
      expect(await must(store, id)).toMatchObject({
        state: "cancelled",
        cancelReason: "not needed",
        finishedAt: T0 + 5,
        attempt: 0,
        startedAt: null,
      });
      expect(await store.counts()).toMatchObject({ queued: 1, running: 0, cancelled: 1 });
      const { jobs } = await claim(store, { now: T0 + 10 });
      expect(jobs.map((j) => j.id)).toEqual([other]);
      expect((await claim(store, { now: T0 + 100_000 })).jobs).toEqual([]);
    });

    it("cancels a delayed job; it is not claimed after its runAt", async () => {
      const store = await h.open();
      const id = await add(store, T0, { runAt: T0 + 1000 });
      expect(await store.cancel({ id, reason: "r", now: T0 })).toBe("cancelled");
      expect((await claim(store, { now: T0 + 5000 })).jobs).toEqual([]);
      expect(await must(store, id)).toMatchObject({ state: "cancelled" });
    });

    it("cancels a job waiting for its retry", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      await settleOne(store, await claimOne(store, { now: T0 }), retry(T0 + 1000), T0 + 1);
      expect(await store.cancel({ id, reason: "r", now: T0 + 2 })).toBe("cancelled");
      expect((await claim(store, { now: T0 + 5000 })).jobs).toEqual([]);
      expect(await must(store, id)).toMatchObject({ state: "cancelled", attempt: 1, cancelReason: "r" });
    });

    it("requests cancellation of a running job: flagged, still running, reported by heartbeat", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      await claimOne(store, { now: T0 });
      expect(await store.cancel({ id, reason: "user asked", now: T0 + 5 })).toBe("requested");
      expect(await must(store, id)).toMatchObject({
        state: "running",
        cancelRequested: true,
        cancelReason: "user asked",
        leaseOwner: "w1",
        finishedAt: null,
      });
      expect(await store.counts()).toMatchObject({ running: 1, cancelled: 0 });
      const beat = await store.heartbeat({ workerId: "w1", entries: [{ id, attempt: 1 }], leaseMs: 1000, now: T0 + 6 });
      expect(beat).toEqual({ lost: [], cancelRequested: [id] });
      expect(await store.cancel({ id, reason: "again", now: T0 + 7 })).toBe("requested");
      expect(await must(store, id)).toMatchObject({ state: "running", cancelRequested: true });
    });

    for (const [label, outcome] of ANY_OUTCOME) {
      it(`turns a ${label} settle of a cancel-requested job into cancelled`, async () => {
        const store = await h.open();
        const id = await add(store, T0);
        const job = await claimOne(store, { now: T0 });
        expect(await store.cancel({ id, reason: "user asked", now: T0 + 1 })).toBe("requested");
        expect(await settleOne(store, job, outcome, T0 + 2)).toEqual({ id, applied: true, state: "cancelled" });
        expect(await must(store, id)).toMatchObject({
          state: "cancelled",
          cancelReason: "user asked",
          finishedAt: T0 + 2,
          result: undefined,
        });
        expect(await store.counts()).toMatchObject({ queued: 0, running: 0, completed: 0, failed: 0, cancelled: 1 });
        expect((await claim(store, { now: T0 + 1000 })).jobs).toEqual([]);
        expect(await store.cancel({ id, reason: "late", now: T0 + 3 })).toBe("unchanged");
      });
    }

    for (const [label, outcome] of [
      ["completed", completed(1)],
      ["failed", failed()],
      ["cancelled", cancelled()],
    ] as const) {
      it(`leaves a ${label} job unchanged`, async () => {
        const store = await h.open();
        const id = await add(store, T0);
        await settleOne(store, await claimOne(store, { now: T0 }), outcome, T0 + 1);
        const before = await must(store, id);
        expect(await store.cancel({ id, reason: "too late", now: T0 + 2 })).toBe("unchanged");
        expect(await must(store, id)).toEqual(before);
      });
    }

    it("leaves a job cancelled while queued unchanged", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      await store.cancel({ id, reason: "first", now: T0 + 1 });
      const before = await must(store, id);
      expect(await store.cancel({ id, reason: "second", now: T0 + 2 })).toBe("unchanged");
      expect(await must(store, id)).toEqual(before);
      expect(before.cancelReason).toBe("first");
    });

    it("answers not-found for an unknown id", async () => {
      const store = await h.open();
      await add(store, T0);
      expect(await store.cancel({ id: "987654321", reason: "r", now: T0 })).toBe("not-found");
      expect(await store.counts()).toMatchObject({ queued: 1, cancelled: 0 });
    });
  });
}
