import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import {
  Optiq,
  SandboxCrashError,
  SandboxModuleError,
  ValidationError,
  sandboxHandler,
  type Job,
  type OptiqError,
  type OptiqOptions,
  type RunningJob,
  type SandboxSpec,
} from "../../src/index.js";
import type { Action } from "../fixtures/sandbox/actions.js";
import { deferred, once } from "../support/helpers.js";

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/sandbox/${name}`, import.meta.url));
const ACTIONS = fixture("actions.ts");
const ECHO = fixture("echo.ts");

const queues: Optiq[] = [];

function makeQueue(options: OptiqOptions = {}): Optiq {
  const q = new Optiq({ concurrency: 8, ...options });
  queues.push(q);
  return q;
}

afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop({ graceful: false, timeoutMs: 10_000 })));
});

/** Waits (by result(), not by polling) until the job is terminal, and returns its snapshot. */
async function finished(q: Optiq, id: string): Promise<Job> {
  await q.result(id).catch(() => undefined);
  return (await q.get(id))!;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls a condition with a deadline: only for what has no event (a pid disappearing). */
async function eventually(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] ?? NaN;
}

/**
 * Pickup latency of short in-process jobs while a 2 s CPU-bound job runs:
 * 60 "tick" jobs falling due every 20 ms, each sleeping 10 ms. They are
 * submitted up front with delayMs, before the CPU-bound job, so when they
 * fall due does not depend on the event loop being free. Returns the ticks'
 * queue waits (started − due) and how many started while the CPU-bound job ran.
 */
async function pickupLatency(q: Optiq, cpuName: string): Promise<{ waits: number[]; overlapping: number }> {
  q.define("tick", () => new Promise((resolve) => setTimeout(resolve, 10)), { maxAttempts: 1 });
  const waits: number[] = [];
  const startedAt: number[] = [];
  q.on("started", (e) => {
    if (e.name !== "tick") return;
    waits.push(e.queueWaitMs);
    startedAt.push(Date.now());
  });
  const spinning = once(q, "progress", (e) => e.name === cpuName).then(() => Date.now());
  await q.start();
  // due from 300 ms (a sandbox needs a moment to start its thread/process) to 1.5 s; the CPU-bound job spins 2 s
  const ticks = await q.submitMany(
    Array.from({ length: 60 }, (_, k) => ({ name: "tick", options: { delayMs: 300 + k * 20, maxAttempts: 1 } })),
  );
  const cpu = await q.submit(cpuName, { do: "spin", ms: 2000 } satisfies Action);
  await finished(q, cpu.id);
  const spunUntil = Date.now();
  const spunFrom = await spinning;
  await Promise.all(ticks.map((t) => finished(q, t.id)));
  const overlapping = startedAt.filter((t) => t >= spunFrom && t <= spunUntil).length;
  return { waits, overlapping };
}

describe.each(["thread", "process"] as const)("sandboxed handler, isolation %s", (isolation) => {
  const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec => ({ module: ACTIONS, isolation, poolSize: 1, ...over });

  it("runs the handler off the event loop and forwards progress and checkpoint (default export)", async () => {
    const q = makeQueue({ workerId: "w-1" });
    q.define("echo", { module: ECHO, isolation });
    const progress: unknown[] = [];
    q.on("progress", (e) => progress.push(e.progress));
    await q.start();
    const { id } = await q.submit("echo", { x: 21 });
    const result = await q.result<{ doubled: number; pid: number; threadId: number; workerId: string }>(id, {
      timeoutMs: 30_000,
    });
    expect(result.doubled).toBe(42);
    expect(result.workerId).toBe("w-1");
    if (isolation === "process") expect(result.pid).not.toBe(process.pid);
    else expect(result.threadId).toBeGreaterThan(0);
    expect(progress).toEqual([
      { step: 1, of: 2 },
      { step: 2, of: 2 },
    ]);
    const job = (await q.get(id))!;
    expect(job.state).toBe("completed");
    expect(job.progress).toEqual({ step: 2, of: 2 });
    expect(job.checkpoint).toEqual({ saved: 21 });
  });

  it("a CPU-bound handler does not delay the pickup of other jobs", async () => {
    const q = makeQueue();
    q.define("cpu", spec(), { maxAttempts: 1 });
    const { waits, overlapping } = await pickupLatency(q, "cpu");
    const p = p95(waits);
    console.log(
      `[sandbox ${isolation}] pickup latency of 10 ms jobs during a 2 s CPU-bound sandboxed job: ` +
        `p95 ${p.toFixed(0)} ms, max ${Math.max(...waits).toFixed(0)} ms (${overlapping}/${waits.length} started while it spun)`,
    );
    expect(overlapping).toBeGreaterThanOrEqual(10);
    expect(p).toBeLessThan(200);
  });

  it("a handler that throws: the attempt fails, is retried, and completes on attempt 2", async () => {
    const q = makeQueue();
    q.define("flaky", spec(), { maxAttempts: 3, backoff: { type: "fixed", delayMs: 10, jitter: false } });
    await q.start();
    const { id } = await q.submit("flaky", { do: "throw", untilAttempt: 1 } satisfies Action);
    expect(await q.result(id, { timeoutMs: 30_000 })).toEqual({ attempt: 2 });
    const job = (await q.get(id))!;
    expect(job.attempt).toBe(2);
    expect(job.errors).toHaveLength(1);
    expect(job.errors[0]!.error).toMatchObject({ name: "Error", message: "boom on attempt 1" });
    expect(job.errors[0]!.error.stack).toContain("boom on attempt 1");
  });

  it("process.exit(3) fails the attempt with SandboxCrashError naming exit code 3; it is retried and the pool carries on", async () => {
    const q = makeQueue();
    q.define("exit", spec(), { maxAttempts: 2, backoff: { type: "fixed", delayMs: 10, jitter: false } });
    q.define("other", { module: ECHO, isolation, poolSize: 1 });
    await q.start();
    const crashed = await q.submit("exit", { do: "exit", code: 3 } satisfies Action);
    const job = await finished(q, crashed.id);
    expect(job.state).toBe("failed");
    expect(job.attempt).toBe(2); // retryable: both attempts ran, each in a fresh thread/process
    for (const { error } of job.errors) {
      expect(error).toMatchObject({ name: "SandboxCrashError", code: "OPTIQ_SANDBOX_CRASH" });
      expect(error.message).toMatch(/exited with code 3/);
    }
    // the same pool (replaced slot) and the other pools keep working
    const recovered = await q.submit("exit", { do: "exit", code: 3, untilAttempt: 1 } satisfies Action);
    expect(await q.result(recovered.id, { timeoutMs: 30_000 })).toEqual({ attempt: 2 });
    const ok = await q.submit("exit", { do: "echo", value: "still here" } satisfies Action);
    expect(await q.result(ok.id, { timeoutMs: 30_000 })).toMatchObject({ value: "still here" });
    const other = await q.submit("other", { x: 1 });
    expect(await q.result(other.id, { timeoutMs: 30_000 })).toMatchObject({ doubled: 2 });
    expect((await q.stats()).running).toBe(0);
  });

  it("exceeding resourceLimits.maxOldGenerationSizeMb fails the attempt with a crash error mentioning memory", async () => {
    const q = makeQueue();
    q.define("oom", spec({ resourceLimits: { maxOldGenerationSizeMb: 32 } }), { maxAttempts: 1 });
    await q.start();
    const { id } = await q.submit("oom", { do: "oom" } satisfies Action);
    const job = await finished(q, id);
    expect(job.state).toBe("failed");
    expect(job.error).toMatchObject({ name: "SandboxCrashError", code: "OPTIQ_SANDBOX_CRASH" });
    expect(job.error!.message).toMatch(/out of memory/);
    expect(job.error!.message).toMatch(/32 MB/);
    const ok = await q.submit("oom", { do: "echo", value: 1 } satisfies Action);
    expect(await q.result(ok.id, { timeoutMs: 30_000 })).toMatchObject({ value: 1 });
  });

  it("cancel of a CPU-bound handler that ignores its signal: hard stop after graceMs, cleanup, cancelled, slot freed", async () => {
    const q = makeQueue();
    const cleaned = deferred<{ job: RunningJob; reason: OptiqError; at: number; running: number }>();
    const graceMs = 300;
    q.define(
      "spin",
      spec({
        graceMs,
        cleanup: async (job, reason) => {
          // the slot is still held while cleanup runs: freed only once the work has stopped
          const { running } = await q.stats();
          cleaned.resolve({ job, reason, at: Date.now(), running });
        },
      }),
    );
    await q.start();
    const spinning = once(q, "progress", (e) => e.progress === "spinning");
    const { id } = await q.submit("spin", { do: "spin", ms: 60_000 } satisfies Action);
    await spinning;
    const cancelledAt = Date.now();
    expect(await q.cancel(id)).toBe(true);
    const result = q.result(id);
    const cleanup = await cleaned.promise;
    await expect(result).rejects.toMatchObject({ code: "OPTIQ_JOB_CANCELLED" });
    expect(cleanup.job.id).toBe(id);
    expect(cleanup.reason.code).toBe("OPTIQ_JOB_CANCELLED");
    expect(cleanup.at - cancelledAt).toBeGreaterThanOrEqual(graceMs - 20);
    expect(cleanup.at - cancelledAt).toBeLessThan(graceMs + 5000);
    expect(cleanup.running).toBe(1);
    const job = (await q.get(id))!;
    expect(job.state).toBe("cancelled");
    // the one slot of the pool was replaced: the next job runs
    const next = await q.submit("spin", { do: "echo", value: "next" } satisfies Action);
    expect(await q.result(next.id, { timeoutMs: 30_000 })).toMatchObject({ value: "next" });
    expect((await q.stats()).running).toBe(0);
  });

  it("cancel of a handler that honours its signal: it stops within graceMs, no hard stop, no cleanup", async () => {
    const q = makeQueue();
    let cleanups = 0;
    q.define("coop", spec({ graceMs: 5000, cleanup: () => void cleanups++ }));
    await q.start();
    const running = once(q, "progress", (e) => e.progress === "honouring");
    const { id } = await q.submit("coop", { do: "honour", ms: 60_000 } satisfies Action);
    await running;
    const t0 = Date.now();
    await q.cancel(id);
    await expect(q.result(id)).rejects.toMatchObject({ code: "OPTIQ_JOB_CANCELLED" });
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(cleanups).toBe(0);
    expect((await q.get(id))!.state).toBe("cancelled");
    expect((await q.stats()).running).toBe(0);
  });

  it("cancel right as the job starts (its thread/process may still be starting): cancelled, and the pool carries on", async () => {
    const q = makeQueue();
    let cleanups = 0;
    q.define("early", spec({ graceMs: 200, cleanup: () => void cleanups++ }));
    const started = once(q, "started");
    await q.start();
    const { id } = await q.submit("early", { do: "spin", ms: 60_000 } satisfies Action);
    await started;
    await q.cancel(id);
    await expect(q.result(id)).rejects.toMatchObject({ code: "OPTIQ_JOB_CANCELLED" });
    const next = await q.submit("early", { do: "echo", value: "after" } satisfies Action);
    expect(await q.result(next.id, { timeoutMs: 30_000 })).toMatchObject({ value: "after" });
    expect((await q.stats()).running).toBe(0);
    expect(cleanups).toBeLessThanOrEqual(1); // 1 only if the spin had already begun and needed a hard stop
  });

  it("timeout of a handler that ignores its signal: hard stop, attempt counted as a timeout, retried", async () => {
    const q = makeQueue();
    const reasons: string[] = [];
    q.define("slow", spec({ graceMs: 200, cleanup: (_job, reason) => void reasons.push(reason.code) }), {
      timeoutMs: 800,
      maxAttempts: 2,
      backoff: { type: "fixed", delayMs: 10, jitter: false },
    });
    await q.start();
    const { id } = await q.submit("slow", { do: "spin", ms: 60_000, quickFromAttempt: 2 } satisfies Action);
    expect(await q.result(id, { timeoutMs: 30_000 })).toEqual({ spun: 0, attempt: 2 });
    const job = (await q.get(id))!;
    expect(job.attempt).toBe(2);
    expect(job.errors).toHaveLength(1);
    expect(job.errors[0]!.error).toMatchObject({ code: "OPTIQ_JOB_TIMEOUT" });
    expect(reasons).toEqual(["OPTIQ_JOB_TIMEOUT"]);
  });

  it("a module without a handler export fails the attempt at once with OPTIQ_SANDBOX_MODULE", async () => {
    const q = makeQueue();
    q.define("nohandler", { module: fixture("no-handler.ts"), isolation, poolSize: 1 }, { maxAttempts: 3 });
    await q.start();
    const { id } = await q.submit("nohandler", {});
    const job = await finished(q, id);
    expect(job.state).toBe("failed");
    expect(job.attempt).toBe(1);
    expect(job.error).toMatchObject({ name: "SandboxModuleError", code: "OPTIQ_SANDBOX_MODULE" });
    expect(job.error!.message).toMatch(/exports no handler/);
  });

  it("a result that is not JSON-serialisable (BigInt) fails at once, naming `result`", async () => {
    const q = makeQueue();
    q.define("bigint", spec(), { maxAttempts: 3 });
    await q.start();
    const { id } = await q.submit("bigint", { do: "bigint" } satisfies Action);
    const job = await finished(q, id);
    expect(job.state).toBe("failed");
    expect(job.attempt).toBe(1);
    expect(job.error).toMatchObject({ name: "ValidationError", code: "OPTIQ_VALIDATION" });
    expect(job.error!.message).toMatch(/^result/);
    // the pool is fine afterwards
    const ok = await q.submit("bigint", { do: "echo", value: 2 } satisfies Action);
    expect(await q.result(ok.id, { timeoutMs: 30_000 })).toMatchObject({ value: 2 });
  });

  it("a progress value that is not JSON-serialisable throws ValidationError into the handler, as in-process", async () => {
    const q = makeQueue();
    q.define("badprogress", spec());
    await q.start();
    const { id } = await q.submit("badprogress", { do: "badProgress" } satisfies Action);
    const result = await q.result<{ rejected: string; message: string }>(id, { timeoutMs: 30_000 });
    expect(result.rejected).toBe("OPTIQ_VALIDATION");
    expect(result.message).toMatch(/^progress\.fn/);
  });

  it("stop() aborts a running sandboxed job, stops every thread/process and resolves; start() brings them back", async () => {
    const q = makeQueue();
    const sandboxed = sandboxHandler({ module: ACTIONS, isolation, poolSize: 2, graceMs: 200 });
    q.define("job", sandboxed);
    await q.start();
    const echoes = await Promise.all([1, 2].map((v) => q.submit("job", { do: "echo", value: v } satisfies Action)));
    const ran = await Promise.all(echoes.map((e) => q.result<{ pid: number }>(e.id, { timeoutMs: 30_000 })));
    const spinning = once(q, "progress", (e) => e.progress === "spinning");
    const spin = await q.submit("job", { do: "spin", ms: 60_000 } satisfies Action);
    await spinning;
    const slots = sandboxed.sandbox.pool.live;
    expect(slots.length).toBeGreaterThanOrEqual(1);
    const pids = slots.map((s) => s.pid).filter((p): p is number => p !== null);
    const t0 = Date.now();
    await q.stop({ graceful: false });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(sandboxed.sandbox.pool.live).toEqual([]);
    expect(slots.every((s) => s.dead)).toBe(true); // each thread/process reported its exit
    if (isolation === "process") {
      expect(ran.every((r) => r.pid !== process.pid)).toBe(true);
      await eventually(() => pids.every((pid) => !pidAlive(pid)));
    }
    const job = (await q.store.get(spin.id))!;
    expect(job.state).toBe("cancelled");
    expect(job.error?.message ?? job.cancelReason ?? "").toMatch(/shutdown/);
    // a later start() re-creates the pool lazily
    await q.start();
    const again = await q.submit("job", { do: "echo", value: "again" } satisfies Action);
    expect(await q.result(again.id, { timeoutMs: 30_000 })).toMatchObject({ value: "again" });
  });
});

describe("sandboxed handler, process only", () => {
  it("a child killed by SIGKILL fails the attempt with a crash error naming SIGKILL", async () => {
    const q = makeQueue();
    q.define("kill", { module: ACTIONS, isolation: "process", poolSize: 1 }, { maxAttempts: 1 });
    await q.start();
    const { id } = await q.submit("kill", { do: "sigkill" } satisfies Action);
    const job = await finished(q, id);
    expect(job.state).toBe("failed");
    expect(job.error).toMatchObject({ name: "SandboxCrashError", code: "OPTIQ_SANDBOX_CRASH" });
    expect(job.error!.message).toMatch(/killed by signal SIGKILL/);
    const ok = await q.submit("kill", { do: "echo", value: 3 } satisfies Action);
    expect(await q.result(ok.id, { timeoutMs: 30_000 })).toMatchObject({ value: 3 });
  });
});

describe("sandboxed handler, in-process contrast", () => {
  it("measures the same CPU-bound handler run in-process (not asserted: it blocks every pickup)", async () => {
    const q = makeQueue();
    q.define(
      "cpu-inline",
      (job, ctx) => {
        ctx.progress("spinning");
        const end = Date.now() + (job.input as { ms: number }).ms;
        while (Date.now() < end);
        return null;
      },
      { maxAttempts: 1 },
    );
    const { waits, overlapping } = await pickupLatency(q, "cpu-inline");
    console.log(
      `[in-process contrast] pickup latency of 10 ms jobs during a 2 s CPU-bound in-process job: ` +
        `p95 ${p95(waits).toFixed(0)} ms, max ${Math.max(...waits).toFixed(0)} ms (${overlapping}/${waits.length} started while it spun)`,
    );
    expect(waits.length).toBe(60);
  });
});

describe("define() with a sandbox spec", () => {
  it("a module path that does not exist throws SandboxModuleError from define", () => {
    const q = makeQueue();
    let err: unknown;
    try {
      q.define("missing", { module: "./no/such/handler.ts", isolation: "thread" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SandboxModuleError);
    expect((err as SandboxModuleError).code).toBe("OPTIQ_SANDBOX_MODULE");
    expect((err as Error).message).toMatch(/no\/such\/handler\.ts does not exist/);
  });

  it("resolves relative paths against the working directory, and accepts file: URLs", () => {
    const q = makeQueue();
    expect(() => q.define("rel", { module: "test/fixtures/sandbox/echo.ts", isolation: "process" })).not.toThrow();
    expect(() =>
      q.define("url", { module: new URL("../fixtures/sandbox/echo.ts", import.meta.url), isolation: "thread" }),
    ).not.toThrow();
  });

  it.each([
    [{ module: ECHO, isolation: "fork" }, "handler.isolation"],
    [{ module: ECHO }, "handler.isolation"],
    [{ isolation: "thread" }, "handler.module"],
    [{ module: 42, isolation: "thread" }, "handler.module"],
    [{ module: "https://example.com/h.js", isolation: "thread" }, "handler.module"],
    [{ module: ECHO, isolation: "thread", poolSize: 0 }, "handler.poolSize"],
    [{ module: ECHO, isolation: "thread", graceMs: -1 }, "handler.graceMs"],
    [
      { module: ECHO, isolation: "thread", resourceLimits: { maxOldGenerationSizeMb: 0.5 } },
      "handler.resourceLimits.maxOldGenerationSizeMb",
    ],
    [{ module: ECHO, isolation: "thread", resourceLimits: { stackSizeMb: 4 } }, "handler.resourceLimits.stackSizeMb"],
    [{ module: ECHO, isolation: "thread", cleanup: "rm -rf" }, "handler.cleanup"],
    [{ module: ECHO, isolaton: "thread" }, "handler.isolaton"],
  ])("an invalid spec %j throws ValidationError naming %s", (bad, field) => {
    const q = makeQueue();
    let err: unknown;
    try {
      q.define("bad", bad as never);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
  });

  it("concurrency defaults to the pool size: jobs beyond it stay queued instead of waiting inside the pool", async () => {
    const q = makeQueue({ concurrency: 8 });
    q.define("spin", { module: ACTIONS, isolation: "thread", poolSize: 1 }, { maxAttempts: 1 });
    const first = await q.submit("spin", { do: "spin", ms: 300 } satisfies Action);
    const second = await q.submit("spin", { do: "echo" } satisfies Action);
    const spinning = once(q, "progress", (e) => e.progress === "spinning");
    await q.start(); // one claim pass, with both jobs already queued
    await spinning;
    expect((await q.get(second.id))!.state).toBe("queued");
    expect((await q.stats()).running).toBe(1);
    await q.result(first.id, { timeoutMs: 30_000 });
    expect(await q.result(second.id, { timeoutMs: 30_000 })).toMatchObject({ value: null });
  });

  it("the abort grace of the definition covers graceMs plus the hard stop (no zombie before it)", async () => {
    const q = makeQueue();
    // observable through behaviour: with abortGraceMs 100 a zombie would be declared before graceMs 1500 ran out
    q.define("spin", { module: ACTIONS, isolation: "thread", poolSize: 1, graceMs: 1500 }, { abortGraceMs: 100 });
    await q.start();
    const spinning = once(q, "progress", (e) => e.progress === "spinning");
    const { id } = await q.submit("spin", { do: "spin", ms: 60_000 } satisfies Action);
    await spinning;
    const t0 = Date.now();
    await q.cancel(id);
    await expect(q.result(id)).rejects.toMatchObject({ code: "OPTIQ_JOB_CANCELLED" });
    // settled only after the hard stop, not as a zombie at 100 ms
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    expect((await q.stats()).running).toBe(0);
  });

  it("a job waiting for a busy pool's slot is cancelled at once, without touching the running one", async () => {
    const q = makeQueue();
    let cleanups = 0;
    // concurrency above the pool size: the second job waits inside the pool for a thread
    q.define(
      "spin",
      { module: ACTIONS, isolation: "thread", poolSize: 1, graceMs: 200, cleanup: () => void cleanups++ },
      { concurrency: 2 },
    );
    await q.start();
    const spinning = once(q, "progress", (e) => e.progress === "spinning");
    const first = await q.submit("spin", { do: "spin", ms: 1500 } satisfies Action);
    await spinning;
    const waitingStarted = once(q, "started", (e) => e.id !== first.id);
    const waiting = await q.submit("spin", { do: "echo" } satisfies Action);
    await waitingStarted;
    await q.cancel(waiting.id);
    await expect(q.result(waiting.id)).rejects.toMatchObject({ code: "OPTIQ_JOB_CANCELLED" });
    expect((await q.get(first.id))!.state).toBe("running");
    expect(await q.result(first.id, { timeoutMs: 30_000 })).toMatchObject({ attempt: 1 });
    expect(cleanups).toBe(0);
  });

  it("SandboxCrashError is an OptiqError with how it died", () => {
    const err = new SandboxCrashError("the sandbox child process was killed by signal SIGKILL", {
      isolation: "process",
      exitCode: null,
      signal: "SIGKILL",
      outOfMemory: false,
    });
    expect(err.code).toBe("OPTIQ_SANDBOX_CRASH");
    expect(err.signal).toBe("SIGKILL");
    const mod = new SandboxModuleError("nope", "file:///x.js");
    expect(mod.code).toBe("OPTIQ_SANDBOX_MODULE");
    expect(mod.name).toBe("SandboxModuleError");
  });
});
