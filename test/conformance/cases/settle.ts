import { describe, expect, it } from "vitest";
import type { SerializedError } from "../../../src/core/job.js";
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
  testError,
} from "../harness.js";

const RICH_ERROR: SerializedError = {
  name: "TypeError",
  message: "bad — ünïcode 🚫",
  code: "E_BAD",
  stack: "TypeError: bad\n    at handler (job.ts:1:1)",
  cause: { name: "Error", message: "root cause", code: "E_ROOT" },
};

const TERMINAL_OUTCOMES: readonly [string, Outcome][] = [
  ["completed", completed({ ok: true })],
  ["failed", failed()],
  ["cancelled", cancelled("by the handler")],
];

export function settleCases(h: Harness): void {
  describe("settle", () => {
    it("completed: stores the result and finishes the job", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      const job = await claimOne(store, { now: T0 });
      expect(await settleOne(store, job, completed({ total: 42, items: ["a"] }), T0 + 100)).toEqual({
        id,
        applied: true,
        state: "completed",
      });
      expect(await must(store, id)).toMatchObject({
        state: "completed",
        result: { total: 42, items: ["a"] },
        error: null,
        errors: [],
        attempt: 1,
        startedAt: T0,
        finishedAt: T0 + 100,
      });
      expect(await store.counts()).toMatchObject({ queued: 0, running: 0, completed: 1 });
    });

    it("failed: records the error (round-tripped whole) and finishes the job", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      const job = await claimOne(store, { now: T0 });
      expect(await settleOne(store, job, failed(RICH_ERROR), T0 + 100)).toEqual({ id, applied: true, state: "failed" });
      const snap = await must(store, id);
      expect(snap).toMatchObject({ state: "failed", attempt: 1, finishedAt: T0 + 100, result: undefined });
      expect(snap.error).toEqual(RICH_ERROR);
      expect(snap.errors).toEqual([{ attempt: 1, at: T0 + 100, error: RICH_ERROR }]);
      expect(await store.counts()).toMatchObject({ running: 0, failed: 1 });
    });

    it("retry: requeues at runAt, keeps every attempt's error, and the next claim is the next attempt", async () => {
      const store = await h.open();
      const id = await add(store, T0, { maxAttempts: 3 });
      const e1 = testError("first");
      const e2 = testError("second");
      const e3 = testError("third");

      const first = await claimOne(store, { now: T0 });
      expect(first.attempt).toBe(1);
      expect(await settleOne(store, first, retry(T0 + 1000, e1), T0 + 10)).toEqual({
        id,
        applied: true,
        state: "queued",
      });
      expect(await must(store, id)).toMatchObject({
        state: "queued",
        runAt: T0 + 1000,
        attempt: 1,
        error: e1,
        errors: [{ attempt: 1, at: T0 + 10, error: e1 }],
        finishedAt: null,
      });
      expect(await store.counts()).toMatchObject({ queued: 1, running: 0 });

      const tooEarly = await claim(store, { now: T0 + 999 });
      expect(tooEarly.jobs).toEqual([]);
      expect(tooEarly.nextRunAt).toBe(T0 + 1000);

      const second = await claimOne(store, { now: T0 + 1000 });
      expect(second).toMatchObject({ id, attempt: 2, runAt: T0 + 1000 });
      expect(await must(store, id)).toMatchObject({ state: "running", attempt: 2, startedAt: T0 + 1000 });
      await settleOne(store, second, retry(T0 + 2000, e2), T0 + 1010);

      const third = await claimOne(store, { now: T0 + 2000 });
      expect(third.attempt).toBe(3);
      expect(await settleOne(store, third, failed(e3), T0 + 2010)).toEqual({ id, applied: true, state: "failed" });
      const snap = await must(store, id);
      expect(snap).toMatchObject({ state: "failed", attempt: 3, error: e3, finishedAt: T0 + 2010 });
      expect(snap.errors).toEqual([
        { attempt: 1, at: T0 + 10, error: e1 },
        { attempt: 2, at: T0 + 1010, error: e2 },
        { attempt: 3, at: T0 + 2010, error: e3 },
      ]);
    });

    it("retry with runAt ≤ now is claimable at once", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      await settleOne(store, await claimOne(store, { now: T0 }), retry(T0 + 5), T0 + 5);
      const again = await claimOne(store, { now: T0 + 5, workerId: "w2" });
      expect(again).toMatchObject({ id, attempt: 2 });
    });

    it("cancelled: finishes the job with the reason", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      const job = await claimOne(store, { now: T0 });
      expect(await settleOne(store, job, cancelled("shutdown"), T0 + 7)).toEqual({
        id,
        applied: true,
        state: "cancelled",
      });
      expect(await must(store, id)).toMatchObject({
        state: "cancelled",
        cancelReason: "shutdown",
        finishedAt: T0 + 7,
        result: undefined,
      });
      expect(await store.counts()).toMatchObject({ running: 0, cancelled: 1 });
    });

    it("settles a batch, answering each settlement in order", async () => {
      const store = await h.open();
      const [a, b, c] = await Promise.all([add(store, T0), add(store, T0), add(store, T0)]);
      const { jobs } = await claim(store, { now: T0 });
      const byId = new Map(jobs.map((j) => [j.id, j]));
      const results = await store.settle({
        workerId: "w1",
        settlements: [
          { id: c!, attempt: byId.get(c!)!.attempt, outcome: completed("c") },
          { id: a!, attempt: byId.get(a!)!.attempt, outcome: failed() },
          { id: b!, attempt: byId.get(b!)!.attempt, outcome: retry(T0 + 50) },
        ],
        now: T0 + 1,
      });
      expect(results).toEqual([
        { id: c, applied: true, state: "completed" },
        { id: a, applied: true, state: "failed" },
        { id: b, applied: true, state: "queued" },
      ]);
    });

    it("refuses a settlement for an unknown id", async () => {
      const store = await h.open();
      await add(store, T0);
      await claimOne(store, { now: T0 });
      const [result] = await store.settle({
        workerId: "w1",
        settlements: [{ id: "987654321", attempt: 1, outcome: completed() }],
        now: T0 + 1,
      });
      expect(result).toEqual({ id: "987654321", applied: false, state: null });
      expect(await store.counts()).toMatchObject({ running: 1, completed: 0 });
    });

    for (const [label, outcome] of TERMINAL_OUTCOMES) {
      it(`keeps a ${label} job terminal: any second settle is refused and changes nothing`, async () => {
        const store = await h.open();
        const id = await add(store, T0);
        const job = await claimOne(store, { now: T0 });
        expect((await settleOne(store, job, outcome, T0 + 1)).state).toBe(label);
        const before = await must(store, id);
        const counts = await store.counts();
        for (const second of [completed("other"), failed(testError("late")), retry(T0 + 5), cancelled("late")]) {
          expect(await settleOne(store, job, second, T0 + 2)).toEqual({ id, applied: false, state: label });
        }
        expect(await must(store, id)).toEqual(before);
        expect(await store.counts()).toEqual(counts);
        expect((await claim(store, { now: T0 + 10 })).jobs).toEqual([]);
      });
    }

    it("refuses a settle from the wrong worker and changes nothing", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      const job = await claimOne(store, { now: T0, workerId: "w1" });
      const before = await must(store, id);
      for (const outcome of [completed(), failed(), retry(T0 + 5), cancelled()]) {
        expect(await settleOne(store, job, outcome, T0 + 1, "intruder")).toEqual({
          id,
          applied: false,
          state: "running",
        });
      }
      expect(await must(store, id)).toEqual(before);
      expect(await settleOne(store, job, completed(), T0 + 2, "w1")).toEqual({ id, applied: true, state: "completed" });
    });

    it("refuses a settle for the wrong attempt and changes nothing", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      const job = await claimOne(store, { now: T0 });
      const before = await must(store, id);
      for (const attempt of [0, 2]) {
        expect(await settleOne(store, { id, attempt }, completed(), T0 + 1)).toEqual({
          id,
          applied: false,
          state: "running",
        });
      }
      expect(await must(store, id)).toEqual(before);
      expect((await settleOne(store, job, completed(), T0 + 2)).applied).toBe(true);
    });

    it("refuses a stale attempt after a retry, whether queued or claimed again by the same worker", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      const first = await claimOne(store, { now: T0 });
      await settleOne(store, first, retry(T0 + 100), T0 + 1);
      expect(await settleOne(store, first, completed(), T0 + 2)).toEqual({ id, applied: false, state: "queued" });
      const second = await claimOne(store, { now: T0 + 100 });
      expect(second.attempt).toBe(2);
      expect(await settleOne(store, first, completed(), T0 + 101)).toEqual({ id, applied: false, state: "running" });
      expect(await must(store, id)).toMatchObject({ state: "running", attempt: 2 });
      expect((await settleOne(store, second, completed(), T0 + 102)).applied).toBe(true);
    });

    it("refuses to settle a job that was never claimed", async () => {
      const store = await h.open();
      const id = await add(store, T0);
      expect(await settleOne(store, { id, attempt: 1 }, completed(), T0 + 1)).toEqual({
        id,
        applied: false,
        state: "queued",
      });
      expect(await must(store, id)).toMatchObject({ state: "queued", attempt: 0 });
    });
  });
}
