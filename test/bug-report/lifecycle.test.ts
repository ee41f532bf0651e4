/**
 * State transitions, retries, cancellation, timeouts and shutdown — including
 * the original queue's hang: a graceful stop right after a retried job.
 */
import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import {
  AbortedError,
  JobCancelledError,
  JobFailedError,
  JobNotFoundError,
  NonRetryableError,
  NotRunningError,
  Optiq,
  RetryAfterError,
  WaitTimeoutError,
  MemoryStore,
  type ClaimParams,
  type ClaimResult,
  type JobState,
} from "../../src/index.js";
import { FakeClock, flushPromises } from "../../src/testing.js";

const noBackoff = { type: "fixed", delayMs: 0, jitter: false } as const;

function statesOf(q: Optiq, id: string): JobState[] {
  const seen: JobState[] = [];
  const note = (state: JobState) => (e: { id: string }) => e.id === id && seen.push(state);
  q.on("started", note("running"));
  q.on("retrying", note("queued"));
  q.on("completed", note("completed"));
  q.on("failed", note("failed"));
  q.on("cancelled", note("cancelled"));
  return seen;
}

describe("job lifecycle", () => {
  it("queued → running → completed", async () => {
    const q = new Optiq();
    q.define("ok", async (job) => (job.input as number) + 1);
    const { id } = await q.submit("ok", 41);
    expect((await q.get(id))?.state).toBe("queued");
    const seen = statesOf(q, id);
    await q.start();
    await expect(q.result(id)).resolves.toBe(42);
    expect(seen).toEqual(["running", "completed"]);
    const job = await q.get(id);
    expect(job).toMatchObject({ state: "completed", result: 42, attempt: 1, error: null, errors: [] });
    expect(job?.startedAt).toBeTypeOf("number");
    expect(job?.finishedAt).toBeGreaterThanOrEqual(job!.startedAt!);
    await q.stop();
  });

  it("queued → running → failed, with the error, its cause and every attempt's error", async () => {
    const q = new Optiq({ defaults: { maxAttempts: 2, backoff: noBackoff } });
    q.define("bad", async (job) => {
      throw new Error(`attempt ${job.attempt} broke`, { cause: new TypeError("root cause") });
    });
    await q.start();
    const { id } = await q.submit("bad");
    const seen = statesOf(q, id);
    const err = await q.result(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect(err).toMatchObject({ attempts: 2, message: expect.stringContaining("attempt 2 broke") });
    expect((err as JobFailedError).cause).toMatchObject({
      message: "attempt 2 broke",
      cause: { name: "TypeError", message: "root cause" },
    });
    expect(seen).toEqual(["running", "queued", "running", "failed"]);
    const job = await q.get(id);
    expect(job?.state).toBe("failed");
    expect(job?.errors.map((e) => [e.attempt, e.error.message])).toEqual([
      [1, "attempt 1 broke"],
      [2, "attempt 2 broke"],
    ]);
    await q.stop();
  });

  it("queued → cancelled: never runs, waiters reject at once", async () => {
    const q = new Optiq();
    let ran = false;
    q.define("never", async () => {
      ran = true;
    });
    const { id } = await q.submit("never");
    const waiting = q.result(id).catch((e: unknown) => e);
    expect(await q.cancel(id, { reason: "user changed their mind" })).toBe(true);
    const err = await waiting;
    expect(err).toBeInstanceOf(JobCancelledError);
    expect(err).toMatchObject({ reason: "user changed their mind" });
    expect(await q.cancel(id)).toBe(false); // already terminal
    await q.start();
    await q.stop();
    expect(ran).toBe(false);
  });

  it("retries with exponential backoff on the clock, then completes; the attempt history is kept", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock });
    const attemptsAt: number[] = [];
    q.define(
      "flaky",
      async (job) => {
        attemptsAt.push(clock.now());
        if (job.attempt < 3) throw new Error(`flake ${job.attempt}`);
        return "finally";
      },
      { maxAttempts: 3, backoff: { type: "exponential", baseMs: 1000, maxMs: 60_000, jitter: false } },
    );
    await q.start();
    const t0 = clock.now();
    const { id } = await q.submit("flaky");
    const result = q.result(id);
    await clock.advance(999);
    expect(attemptsAt.map((t) => t - t0)).toEqual([0]);
    await clock.advance(1);
    expect(attemptsAt.map((t) => t - t0)).toEqual([0, 1000]);
    await clock.advance(2000);
    expect(attemptsAt.map((t) => t - t0)).toEqual([0, 1000, 3000]);
    await expect(result).resolves.toBe("finally");
    const job = await q.get(id);
    expect(job?.attempt).toBe(3);
    expect(job?.errors.map((e) => e.error.message)).toEqual(["flake 1", "flake 2"]);
    expect((await q.stats()).totals).toMatchObject({ retried: 2, completed: 1, failed: 0 });
    await q.stop();
  });

  it("NonRetryableError fails at once; RetryAfterError waits at least its hint", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock, defaults: { maxAttempts: 5, backoff: noBackoff } });
    q.define("fatal", async () => {
      throw new NonRetryableError("bad request: prompt too long");
    });
    let calls = 0;
    q.define("limited", async () => {
      if (++calls === 1) throw new RetryAfterError("429 from the API", 5000);
      return "ok";
    });
    await q.start();
    const fatal = await q.submit("fatal");
    await expect(q.result(fatal.id)).rejects.toMatchObject({ code: "OPTIQ_JOB_FAILED", attempts: 1 });
    const limited = await q.submit("limited");
    await clock.advance(4999);
    expect(calls).toBe(1);
    await clock.advance(1);
    await expect(q.result(limited.id)).resolves.toBe("ok");
    await q.stop();
  });

  it("a graceful stop right after a retried job returns at once and answers every waiter", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock });
    q.define(
      "retry-later",
      async () => {
        throw new Error("try again in a minute");
      },
      { maxAttempts: 3, backoff: { type: "fixed", delayMs: 60_000, jitter: false } },
    );
    await q.start();
    const { id } = await q.submit("retry-later");
    const retried = new Promise((r) => q.on("retrying", r));
    const waiting = q.result(id).catch((e: unknown) => e);
    await clock.advance(1);
    await retried;
    // no clock advance: stop must not wait for the retry's backoff
    await q.stop({ graceful: true, timeoutMs: 60_000 });
    expect(await waiting).toBeInstanceOf(NotRunningError);
    expect(clock.pending).toBe(0); // no timer keeps the process alive
    await expect(q.submit("retry-later")).rejects.toBeInstanceOf(NotRunningError);
  });
});

describe("progress and checkpoints", () => {
  it("a checkpoint saved just before a failure reaches the next attempt; the last progress is kept", async () => {
    const q = new Optiq({ defaults: { maxAttempts: 2, backoff: noBackoff } });
    const seen: unknown[] = [];
    q.define("resumable", async (job, ctx) => {
      seen.push(job.checkpoint);
      if (job.attempt === 1) {
        ctx.progress({ trial: 60 });
        ctx.checkpoint({ trial: 60 });
        throw new Error("crash at trial 60");
      }
      ctx.progress({ trial: 100 });
      return "resumed";
    });
    await q.start();
    const { id } = await q.submit("resumable");
    expect(await q.result(id)).toBe("resumed");
    expect(seen).toEqual([null, { trial: 60 }]);
    expect((await q.get(id))?.progress).toEqual({ trial: 100 });
    await q.stop();
  });
});

describe("handlers that misbehave", () => {
  it("a handler that throws synchronously fails its attempt like a rejection", async () => {
    const q = new Optiq({ defaults: { maxAttempts: 1 } });
    q.define("sync-throw", () => {
      throw new RangeError("sync boom");
    });
    await q.start();
    const { id } = await q.submit("sync-throw");
    await expect(q.result(id)).rejects.toMatchObject({ cause: { name: "RangeError", message: "sync boom" } });
    await q.stop();
  });

  it.each([
    ["a string", "just a string"],
    ["undefined", undefined],
    ["null", null],
    ["an object", { status: 500 }],
    ["a number", 42],
  ])("a handler that rejects with %s fails with a typed, described error", async (_label, thrown) => {
    const q = new Optiq({ defaults: { maxAttempts: 1 } });
    q.define("weird", () => Promise.reject(thrown));
    await q.start();
    const { id } = await q.submit("weird");
    const err = await q.result(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).cause).toMatchObject({ name: "NonErrorThrown", code: "OPTIQ_HANDLER_ERROR" });
    expect((await q.get(id))?.state).toBe("failed");
    await q.stop();
  });

  it("a handler that never settles: its timeout fails the attempt after the grace period; the slot stays held and health says so", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock, concurrency: 2 });
    q.define("hang", () => new Promise(() => undefined), { timeoutMs: 1000, maxAttempts: 1, abortGraceMs: 500 });
    await q.start();
    const { id } = await q.submit("hang");
    const outcome = q.result(id).catch((e: unknown) => e);
    await clock.advance(1499);
    expect((await q.get(id))?.state).toBe("running");
    await clock.advance(1);
    const err = await outcome;
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as JobFailedError).cause).toMatchObject({ code: "OPTIQ_JOB_TIMEOUT" });
    // the job itself says the work may go on
    expect((await q.get(id))?.error?.message).toMatch(/ignored its abort signal for 500 ms and may still be running/);
    const stats = await q.stats();
    expect(stats.running).toBe(1); // honest: the work may still be going on
    const health = await q.health();
    expect(health.status).toBe("degraded");
    expect(health.issues).toContainEqual(expect.objectContaining({ kind: "zombie", jobId: id, name: "hang" }));
    await q.stop({ graceful: false, timeoutMs: 1000 });
  });

  it("a handler that honours its signal stops on timeout and is retried with reason timeout", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock });
    const reasons: string[] = [];
    q.define(
      "slow",
      (job, ctx) =>
        new Promise((resolve, reject) => {
          if (job.attempt === 2) return resolve("fast enough");
          ctx.signal.addEventListener("abort", () => {
            reasons.push((ctx.signal.reason as { code: string }).code);
            reject(ctx.signal.reason);
          });
        }),
      { timeoutMs: 1000, maxAttempts: 2, backoff: noBackoff },
    );
    await q.start();
    const { id } = await q.submit("slow");
    await clock.advance(1000);
    await expect(q.result(id)).resolves.toBe("fast enough");
    expect(reasons).toEqual(["OPTIQ_JOB_TIMEOUT"]);
    expect((await q.get(id))?.errors[0]?.error.code).toBe("OPTIQ_JOB_TIMEOUT");
    await q.stop();
  });
});

describe("cancelling a running job", () => {
  it("aborts its signal; it ends cancelled, is not retried, not counted failed, and a late result is ignored", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock, defaults: { maxAttempts: 3, backoff: noBackoff } });
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    let reason: unknown;
    q.define("long", (_job, ctx) => {
      started();
      return new Promise((resolve) => {
        // a handler that notices the abort but still returns a value
        ctx.signal.addEventListener("abort", () => {
          reason = ctx.signal.reason;
          resolve("late result");
        });
      });
    });
    await q.start();
    const { id } = await q.submit("long");
    await running;
    const waiting = q.result(id).catch((e: unknown) => e);
    expect(await q.cancel(id, { reason: "budget exceeded" })).toBe(true);
    expect(await waiting).toBeInstanceOf(JobCancelledError);
    expect(reason).toMatchObject({ code: "OPTIQ_JOB_CANCELLED" });
    const job = await q.get(id);
    expect(job).toMatchObject({ state: "cancelled", attempt: 1, result: undefined, cancelReason: "budget exceeded" });
    await clock.advance(10_000);
    expect((await q.get(id))?.state).toBe("cancelled");
    expect((await q.stats()).totals).toMatchObject({ cancelled: 1, failed: 0, retried: 0, completed: 0 });
    expect(await q.cancel(id)).toBe(false);
    await q.stop();
  });

  it("a running handler that ignores its signal is settled cancelled after the grace period", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock });
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    q.define(
      "stubborn",
      () => {
        started();
        return new Promise(() => undefined);
      },
      { abortGraceMs: 2000 },
    );
    await q.start();
    const { id } = await q.submit("stubborn");
    await running;
    const waiting = q.result(id).catch((e: unknown) => e);
    await q.cancel(id);
    await clock.advance(1999);
    expect((await q.get(id))?.state).toBe("running");
    await clock.advance(1);
    expect(await waiting).toBeInstanceOf(JobCancelledError);
    expect((await q.health()).issues.map((i) => i.kind)).toContain("zombie");
    // the job says what happened: cancelled, with the work possibly still going on
    expect((await q.get(id))?.error?.message).toMatch(/ignored its abort signal for 2000 ms and may still be running/);
    await q.stop({ graceful: false, timeoutMs: 100 });
  });
});

describe("result waits", () => {
  it("any number of waiters, no timers without a timeout, wait-timeout leaves the job running, unknown ids reject", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock });
    q.define("later", () => new Promise((r) => clock.setTimeout(() => r("value"), 5000)));
    await q.start();
    const { id } = await q.submit("later");
    await clock.advance(1);
    const timersBefore = clock.pending;
    const waiters = Array.from({ length: 1000 }, () => q.result(id));
    expect(clock.pending).toBe(timersBefore); // event-driven: no timer per waiter
    const impatient = q.result(id, { timeoutMs: 100 }).catch((e: unknown) => e);
    await clock.advance(100);
    const timeout = await impatient;
    expect(timeout).toBeInstanceOf(WaitTimeoutError);
    expect(timeout).toMatchObject({ state: "running", timeoutMs: 100 });
    await clock.advance(5000);
    expect(await Promise.all(waiters)).toEqual(Array(1000).fill("value"));
    await expect(q.result("no-such-job")).rejects.toBeInstanceOf(JobNotFoundError);
    await expect(q.result(id)).resolves.toBe("value"); // after the fact, at once
    await q.stop();
  });
});

describe("result waits with a signal", () => {
  it("an aborted wait rejects AbortedError at once, takes its timer and listener with it, and the job goes on", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock });
    q.define("later", () => new Promise((r) => clock.setTimeout(() => r("value"), 5000)));
    await q.start();
    const { id } = await q.submit("later");
    await clock.advance(1);
    const timersBefore = clock.pending;
    const patient = q.result(id);
    const caller = new AbortController();
    const leaving = q.result(id, { timeoutMs: 60_000, signal: caller.signal }).catch((e: unknown) => e);
    await flushPromises();
    expect(clock.pending).toBe(timersBefore + 1);
    caller.abort();
    expect(await leaving).toBeInstanceOf(AbortedError);
    expect(clock.pending).toBe(timersBefore);
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
    await expect(q.result(id, { signal: caller.signal })).rejects.toBeInstanceOf(AbortedError);
    await clock.advance(5000);
    await expect(patient).resolves.toBe("value");
    // a signal that never aborts keeps no listener once the wait is answered
    const unused = new AbortController();
    await expect(q.result(id, { signal: unused.signal })).resolves.toBe("value");
    expect(getEventListeners(unused.signal, "abort")).toHaveLength(0);
    await expect(q.result(id, { signal: "stop" as unknown as AbortSignal })).rejects.toMatchObject({
      code: "OPTIQ_VALIDATION",
      field: "options.signal",
    });
    await q.stop();
  });
});

describe("start and stop", () => {
  it("stop before start is a no-op; start and stop are idempotent; start → stop → start works", async () => {
    const q = new Optiq();
    q.define("x", async (job) => job.input);
    await q.stop();
    await q.start();
    await q.start();
    expect(await q.result((await q.submit("x", 1)).id)).toBe(1);
    await q.stop();
    await q.stop();
    await expect(q.submit("x", 2)).rejects.toBeInstanceOf(NotRunningError);
    // a stopped queue does not quietly reopen its store
    await expect(q.get("1")).rejects.toBeInstanceOf(NotRunningError);
    await expect(q.cancel("1")).rejects.toBeInstanceOf(NotRunningError);
    await expect(q.stats()).rejects.toBeInstanceOf(NotRunningError);
    await q.start();
    expect(await q.result((await q.submit("x", 3)).id)).toBe(3);
    await q.stop();
  });

  it("a graceful stop lets running jobs finish before the deadline", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock });
    q.define("finish", () => new Promise((r) => clock.setTimeout(() => r("done"), 1000)));
    await q.start();
    const { id } = await q.submit("finish");
    await clock.advance(1);
    const completed = new Promise((r) => q.on("completed", r));
    const stopping = q.stop({ graceful: true, timeoutMs: 5000 });
    await clock.advance(1000);
    await stopping;
    await completed;
    expect(clock.pending).toBe(0);
    expect((await q.store.get(id))?.state).toBe("completed");
  });

  it("a graceful stop past its deadline aborts running jobs: they end cancelled, reason shutdown", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock });
    const reasons: string[] = [];
    q.define(
      "endless",
      (_job, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => {
            reasons.push((ctx.signal.reason as { code: string }).code);
            reject(ctx.signal.reason);
          });
        }),
    );
    await q.start();
    const { id } = await q.submit("endless");
    await clock.advance(1);
    const waiting = q.result(id).catch((e: unknown) => e);
    const stopping = q.stop({ graceful: true, timeoutMs: 2000 });
    await clock.advance(2000);
    await stopping;
    expect(reasons).toEqual(["OPTIQ_SHUTDOWN"]);
    expect(await waiting).toBeInstanceOf(Error);
    const job = await q.store.get(id);
    expect(job).toMatchObject({ state: "cancelled", cancelReason: "shutdown" });
    expect(clock.pending).toBe(0);
  });

  it("a claim still in flight when stop() begins hands its jobs back: queued again, attempt undone", async () => {
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    let claimStarted!: () => void;
    const claiming = new Promise<void>((r) => (claimStarted = r));
    class SlowClaimStore extends MemoryStore {
      override async claim(params: ClaimParams): Promise<ClaimResult> {
        if (params.names.size > 0) {
          claimStarted();
          await gate;
        }
        return super.claim(params);
      }
    }
    const q = new Optiq({ store: new SlowClaimStore() });
    let ran = false;
    q.define("x", async () => {
      ran = true;
    });
    const { id } = await q.submit("x");
    await q.start();
    await claiming;
    const stopping = q.stop();
    openGate();
    await stopping;
    expect(ran).toBe(false);
    expect(await q.store.get(id)).toMatchObject({ state: "queued", attempt: 0, leaseOwner: null });
  });

  it("a stop that has to give up on a handler ignoring its signal says so in the job, and still returns", async () => {
    const q = new Optiq();
    q.define("deaf", () => new Promise(() => undefined), { abortGraceMs: 50 });
    await q.start();
    const started = new Promise((r) => q.on("started", r));
    const { id } = await q.submit("deaf");
    await started;
    await q.stop({ graceful: false, timeoutMs: 1000 });
    const job = await q.store.get(id);
    expect(job?.state).toBe("cancelled");
    expect(job?.cancelReason).toBe("shutdown");
    expect(job?.error?.message).toMatch(
      /^cancelled: shutdown; the handler ignored its abort signal for 50 ms and may still be running/,
    );
  });

  it("a forced stop aborts at once", async () => {
    const q = new Optiq();
    let aborted = false;
    q.define(
      "endless",
      (_job, ctx) =>
        new Promise((_resolve, reject) =>
          ctx.signal.addEventListener("abort", () => {
            aborted = true;
            reject(ctx.signal.reason);
          }),
        ),
    );
    await q.start();
    const started = new Promise((r) => q.on("started", r));
    const { id } = await q.submit("endless");
    await started;
    await q.stop({ graceful: false });
    expect(aborted).toBe(true);
    expect((await q.store.get(id))?.state).toBe("cancelled");
  });
});
