import { describe, expect, it } from "vitest";
import { type Harness, T0, add, claim, claimOne, completed, must, settleOne } from "../harness.js";

/** A cancellation's note (the worker's word that the work may go on) reaches the job's error, on every path. */
export function cancelNoteCases(h: Harness): void {
  describe("cancelled with a note", () => {
    it("appends the note to the error; a requested cancel keeps the caller's reason and the note", async () => {
      const store = await h.open();
      const own = await add(store, T0);
      const requested = await add(store, T0 + 1);
      const [a, b] = (await claim(store, { now: T0 + 2 })).jobs;
      expect(await store.cancel({ id: requested, reason: "user asked", now: T0 + 3 })).toBe("requested");
      const note = "the handler may still be running";
      const results = await store.settle({
        workerId: "w1",
        now: T0 + 4,
        settlements: [
          { id: a!.id, attempt: a!.attempt, outcome: { kind: "cancelled", reason: "shutdown", note } },
          { id: b!.id, attempt: b!.attempt, outcome: { kind: "cancelled", reason: "ignored", note } },
        ],
      });
      expect(results.map((r) => r.state)).toEqual(["cancelled", "cancelled"]);
      expect(await must(store, own)).toMatchObject({
        cancelReason: "shutdown",
        error: { code: "OPTIQ_JOB_CANCELLED", message: `cancelled: shutdown; ${note}` },
      });
      expect(await must(store, requested)).toMatchObject({
        cancelReason: "user asked",
        error: { message: `cancelled: user asked; ${note}` },
      });
    });
  });
}

export function releaseCases(h: Harness): void {
  describe("release", () => {
    it("puts claimed jobs back in the queue with the attempt undone, in their original order", async () => {
      const store = await h.open();
      const first = await add(store, T0);
      const second = await add(store, T0 + 1);
      const { jobs } = await claim(store, { now: T0 + 10 });
      expect(jobs.map((j) => j.id)).toEqual([first, second]);
      const released = await store.release({
        workerId: "w1",
        jobs: jobs.map((j) => ({ id: j.id, attempt: j.attempt })),
        now: T0 + 20,
      });
      expect([...released].sort()).toEqual([first, second].sort());
      const job = await must(store, first);
      expect(job).toMatchObject({ state: "queued", attempt: 0, leaseOwner: null, startedAt: null, errors: [] });
      expect(await store.counts()).toMatchObject({ queued: 2, running: 0 });
      const again = await claim(store, { now: T0 + 30, workerId: "w2" });
      expect(again.jobs.map((j) => [j.id, j.attempt])).toEqual([
        [first, 1],
        [second, 1],
      ]);
    });

    it("is guarded: another worker, another attempt or a finished job is left alone", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      const job = await claimOne(store, { now: T0 });
      expect(await store.release({ workerId: "w2", jobs: [{ id, attempt: job.attempt }], now: T0 + 1 })).toEqual([]);
      expect(await store.release({ workerId: "w1", jobs: [{ id, attempt: job.attempt + 1 }], now: T0 + 1 })).toEqual(
        [],
      );
      expect((await must(store, id)).state).toBe("running");
      await settleOne(store, job, completed("done"), T0 + 2);
      expect(await store.release({ workerId: "w1", jobs: [{ id, attempt: job.attempt }], now: T0 + 3 })).toEqual([]);
      expect((await must(store, id)).state).toBe("completed");
    });

    it("a job whose cancel was requested ends cancelled instead", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      const job = await claimOne(store, { now: T0 });
      expect(await store.cancel({ id, reason: "no longer needed", now: T0 + 1 })).toBe("requested");
      expect(await store.release({ workerId: "w1", jobs: [{ id, attempt: job.attempt }], now: T0 + 2 })).toEqual([]);
      expect(await must(store, id)).toMatchObject({
        state: "cancelled",
        cancelReason: "no longer needed",
        leaseOwner: null,
      });
    });
  });
}
