import { describe, expect, it } from "vitest";
import { QueueFullError } from "../../../src/core/errors.js";
import { makeJob, makeJobs } from "../../support/job-factory.js";
import { type Harness, T0, add, claim, claimOne, completed, must, rejectionOf, settleOne } from "../harness.js";

const INPUTS: readonly [string, unknown][] = [
  ["an object", { a: 1, nested: { b: [1, "two", null, true, false, 3.5] }, empty: {}, list: [] }],
  ["an array", [1, 2, [3, [4]], { x: "y" }, "z"]],
  ["a string", "plain string"],
  ["unicode", "héllo wörld — 日本語 — 🚀🎉 — עברית — ｆｕｌｌ — e\u0301 — \u2028"],
  ["escapes", 'quotes " and \\ backslash, a\nnewline and a\ttab'],
  ["a number", -12.5],
  ["a boolean", false],
  ["null", null],
];

export function enqueueCases(h: Harness): void {
  describe("enqueue and read", () => {
    it("returns one created id per job, in order, all distinct", async () => {
      const store = await h.open();
      const results = await store.enqueue({
        jobs: [makeJob(T0, { name: "a" }), makeJob(T0, { name: "b" }), makeJob(T0, { name: "c" })],
        now: T0,
        maxQueued: null,
      });
      expect(results.map((r) => r.created)).toEqual([true, true, true]);
      expect(new Set(results.map((r) => r.id)).size).toBe(3);
      for (const [i, name] of ["a", "b", "c"].entries()) {
        expect((await must(store, results[i]!.id)).name).toBe(name);
      }
    });

    it("get() returns the full snapshot of a queued job", async () => {
      const store = await h.open();
      const id = await add(store, T0, {
        name: "report",
        inputJson: '{"a":1}',
        priority: 7,
        runAt: T0 + 5000,
        maxAttempts: 5,
        timeoutMs: 60_000,
        backoff: { type: "exponential", baseMs: 500, maxMs: 8000, jitter: true },
        key: "k-1",
        group: "g1",
      });
      expect(await store.get(id)).toEqual({
        id,
        name: "report",
        state: "queued",
        priority: 7,
        input: { a: 1 },
        result: undefined,
        error: null,
        attempt: 0,
        maxAttempts: 5,
        errors: [],
        progress: null,
        checkpoint: null,
        key: "k-1",
        group: "g1",
        timeoutMs: 60_000,
        backoff: { type: "exponential", baseMs: 500, maxMs: 8000, jitter: true },
        createdAt: T0,
        runAt: T0 + 5000,
        startedAt: null,
        finishedAt: null,
        lastProgressAt: null,
        leaseOwner: null,
        leaseExpiresAt: null,
        cancelRequested: false,
        cancelReason: null,
      });
    });

    it("get() of an unknown id is null", async () => {
      const store = await h.open();
      await add(store, T0);
      expect(await store.get("987654321")).toBeNull();
    });

    it.each(INPUTS)("round-trips %s as input through get() and claim()", async (_label, value) => {
      const store = await h.open();
      const id = await add(store, T0, { inputJson: JSON.stringify(value) });
      expect((await must(store, id)).input).toEqual(value);
      const job = await claimOne(store, { now: T0 });
      expect(job.id).toBe(id);
      expect(job.input).toEqual(value);
    });

    it.each(INPUTS)("round-trips %s as a result", async (_label, value) => {
      const store = await h.open();
      const id = await add(store, T0);
      const job = await claimOne(store, { now: T0 });
      await settleOne(store, job, completed(value), T0 + 1);
      expect((await must(store, id)).result).toEqual(value);
    });

    it("counts() reports every state exactly", async () => {
      const store = await h.open();
      expect(await store.counts()).toEqual({ queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 });
      await store.enqueue({ jobs: makeJobs(7, T0), now: T0, maxQueued: null });
      await store.enqueue({ jobs: [makeJob(T0, { runAt: T0 + 60_000 })], now: T0, maxQueued: null });
      const { jobs } = await claim(store, { now: T0, limit: 4 });
      expect(jobs).toHaveLength(4);
      await settleOne(store, jobs[0]!, completed(), T0 + 1);
      await settleOne(store, jobs[1]!, { kind: "failed", error: { name: "Error", message: "x" } }, T0 + 1);
      await settleOne(store, jobs[2]!, { kind: "cancelled", reason: "r" }, T0 + 1);
      const queued = await store.list({ state: "queued", limit: 100 });
      expect(await store.cancel({ id: queued[0]!.id, reason: "r", now: T0 + 2 })).toBe("cancelled");
      expect(await store.counts()).toEqual({ queued: 3, running: 1, completed: 1, failed: 1, cancelled: 2 });
    });
  });

  describe("idempotency keys", () => {
    it("returns the existing id with created=false for a key already used", async () => {
      const store = await h.open();
      const first = await add(store, T0, { key: "k", inputJson: '"first"' });
      const again = await store.enqueue({
        jobs: [makeJob(T0 + 1, { key: "k", inputJson: '"second"' }), makeJob(T0 + 1, { key: "other" })],
        now: T0 + 1,
        maxQueued: null,
      });
      expect(again[0]).toEqual({ id: first, created: false });
      expect(again[1]!.created).toBe(true);
      expect(again[1]!.id).not.toBe(first);
      expect((await must(store, first)).input).toBe("first");
      expect((await store.counts()).queued).toBe(2);
    });

    it("deduplicates within one batch", async () => {
      const store = await h.open();
      const results = await store.enqueue({
        jobs: [
          makeJob(T0, { key: "k1" }),
          makeJob(T0, { key: "k1" }),
          makeJob(T0),
          makeJob(T0),
          makeJob(T0, { key: "k2" }),
          makeJob(T0, { key: "k1" }),
        ],
        now: T0,
        maxQueued: null,
      });
      expect(results.map((r) => r.created)).toEqual([true, false, true, true, true, false]);
      expect(results[1]!.id).toBe(results[0]!.id);
      expect(results[5]!.id).toBe(results[0]!.id);
      expect(new Set(results.map((r) => r.id)).size).toBe(4);
      expect((await store.counts()).queued).toBe(4);
    });

    it("creates exactly one job under 20 concurrent enqueues of the same key", async () => {
      const store = await h.open();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.enqueue({ jobs: [makeJob(T0, { key: "same", inputJson: String(i) })], now: T0, maxQueued: null }),
        ),
      );
      const flat = results.map((r) => {
        expect(r).toHaveLength(1);
        return r[0]!;
      });
      expect(flat.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(flat.map((r) => r.id)).size).toBe(1);
      expect((await store.counts()).queued).toBe(1);
      expect(await store.list({ limit: 100 })).toHaveLength(1);
    });

    it("still deduplicates against a finished job that is retained", async () => {
      const store = await h.open();
      const id = await add(store, T0, { key: "done" });
      await settleOne(store, await claimOne(store, { now: T0 }), completed(1), T0 + 1);
      const [again] = await store.enqueue({ jobs: [makeJob(T0 + 2, { key: "done" })], now: T0 + 2, maxQueued: null });
      expect(again).toEqual({ id, created: false });
      expect((await must(store, id)).state).toBe("completed");
      expect((await store.counts()).queued).toBe(0);
    });

    it("never deduplicates jobs without a key", async () => {
      const store = await h.open();
      const results = await store.enqueue({ jobs: makeJobs(3, T0), now: T0, maxQueued: null });
      expect(results.map((r) => r.created)).toEqual([true, true, true]);
      expect(new Set(results.map((r) => r.id)).size).toBe(3);
    });
  });

  describe("maxQueued", () => {
    it("rejects a batch that would exceed it with QueueFullError and stores nothing of it", async () => {
      const store = await h.open();
      await store.enqueue({ jobs: makeJobs(2, T0), now: T0, maxQueued: 3 });
      const error = await rejectionOf(
        store.enqueue({
          jobs: [makeJob(T0, { key: "batch-a" }), makeJob(T0, { key: "batch-b" })],
          now: T0,
          maxQueued: 3,
        }),
      );
      expect(error).toBeInstanceOf(QueueFullError);
      expect((error as QueueFullError).code).toBe("OPTIQ_QUEUE_FULL");
      expect((await store.counts()).queued).toBe(2);
      expect(await store.list({ limit: 100 })).toHaveLength(2);
      // the rejected batch's keys were never taken
      const [a] = await store.enqueue({ jobs: [makeJob(T0, { key: "batch-a" })], now: T0, maxQueued: 3 });
      expect(a!.created).toBe(true);
      expect((await store.counts()).queued).toBe(3);
    });

    it("accepts a batch that fills the queue exactly, then rejects one more", async () => {
      const store = await h.open();
      const results = await store.enqueue({ jobs: makeJobs(3, T0), now: T0, maxQueued: 3 });
      expect(results).toHaveLength(3);
      const error = await rejectionOf(store.enqueue({ jobs: [makeJob(T0)], now: T0, maxQueued: 3 }));
      expect(error).toBeInstanceOf(QueueFullError);
      expect((await store.counts()).queued).toBe(3);
    });

    it("counts delayed jobs as queued", async () => {
      const store = await h.open();
      await store.enqueue({ jobs: [makeJob(T0, { runAt: T0 + 60_000 })], now: T0, maxQueued: 1 });
      const error = await rejectionOf(store.enqueue({ jobs: [makeJob(T0)], now: T0, maxQueued: 1 }));
      expect(error).toBeInstanceOf(QueueFullError);
      expect((await store.counts()).queued).toBe(1);
    });

    it("does not count running or finished jobs", async () => {
      const store = await h.open();
      await store.enqueue({ jobs: makeJobs(2, T0), now: T0, maxQueued: 2 });
      const [a, b] = (await claim(store, { now: T0 })).jobs;
      await settleOne(store, a!, completed(), T0 + 1);
      expect((await store.counts()).running).toBe(1);
      expect(b).toBeDefined();
      const results = await store.enqueue({ jobs: makeJobs(2, T0 + 2), now: T0 + 2, maxQueued: 2 });
      expect(results.map((r) => r.created)).toEqual([true, true]);
      expect((await store.counts()).queued).toBe(2);
    });

    it("does not count jobs whose key already exists, in the store or earlier in the batch", async () => {
      const store = await h.open();
      const id = await add(store, T0, { key: "k" });
      const dup = await store.enqueue({ jobs: [makeJob(T0, { key: "k" })], now: T0, maxQueued: 1 });
      expect(dup).toEqual([{ id, created: false }]);
      // one queued + one new job (the batch holds its key twice) = 2 ≤ 2
      const batch = await store.enqueue({
        jobs: [makeJob(T0, { key: "x" }), makeJob(T0, { key: "x" })],
        now: T0,
        maxQueued: 2,
      });
      expect(batch.map((r) => r.created)).toEqual([true, false]);
      expect(batch[1]!.id).toBe(batch[0]!.id);
      expect((await store.counts()).queued).toBe(2);
    });
  });
}
