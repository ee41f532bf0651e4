/**
 * The example optimize handler (examples/handlers/optimize-handler.ts) run as
 * it is meant to be: sandboxed, in a worker thread (or child process). On the
 * memory store: progress, results equal to an in-test run, cancellation at a
 * trial boundary, and resuming from a checkpoint after a failed attempt. In
 * real worker processes on SQLite: kill -9 after the checkpoint at trial 60,
 * and a second worker finishing from there.
 */
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { JobCancelledError, Optiq, sandboxHandler, type OptiqOptions } from "../../src/index.js";
import { SqliteStore } from "../../src/sqlite.js";
import type {
  OptimizeCheckpoint,
  OptimizeJobInput,
  OptimizeJobProgress,
  OptimizeJobResult,
} from "../../examples/handlers/optimize-handler.js";
import { FUNCTION_NAMES } from "../../examples/lib/functions.js";
import { startWorker, type WorkerProcess } from "../support/processes.js";
import { runOptimization, type OptimizationInput } from "../../examples/lib/resumable-es.js";
import { once } from "../support/helpers.js";

const HANDLER = fileURLToPath(new URL("../../examples/handlers/optimize-handler.ts", import.meta.url));
const WORKER = fileURLToPath(new URL("./fixtures/optimize-worker.ts", import.meta.url));

/** The uninterrupted reference run, computed here in the test process (the hooks do not change the result). */
function reference(input: OptimizeJobInput): OptimizeJobResult {
  const { fn, dims, trials, evalsPerTrial, seed } = input;
  return runOptimization({ fn, dims, trials, evalsPerTrial, seed } satisfies OptimizationInput);
}

describe("example optimize handler, sandboxed (thread) on the memory store", () => {
  const queues: Optiq[] = [];
  const makeQueue = (options: OptiqOptions = {}): Optiq => {
    const q = new Optiq({ concurrency: 4, ...options });
    queues.push(q);
    return q;
  };

  afterEach(async () => {
    await Promise.all(queues.splice(0).map((q) => q.stop({ graceful: false, timeoutMs: 10_000 })));
  });

  /** Progress values per job id, in order. */
  function recordProgress(q: Optiq): Map<string, OptimizeJobProgress[]> {
    const seen = new Map<string, OptimizeJobProgress[]>();
    q.on("progress", (e) => {
      const list = seen.get(e.id) ?? [];
      list.push(e.progress as OptimizeJobProgress);
      seen.set(e.id, list);
    });
    return seen;
  }

  it("reports progress every trial and finds the Sphere optimum; the same seed gives the same result", async () => {
    const q = makeQueue();
    q.define("optimize", { module: HANDLER, isolation: "thread", poolSize: 2 });
    const progress = recordProgress(q);
    await q.start();
    const input: OptimizeJobInput = { fn: "sphere", dims: 5, trials: 50, evalsPerTrial: 200, seed: 7 };
    const [a, b, c] = await q.submitMany([
      { name: "optimize", input },
      { name: "optimize", input },
      { name: "optimize", input: { ...input, seed: 8 } },
    ]);
    const [ra, rb, rc] = await Promise.all(
      [a!, b!, c!].map((s) => q.result<OptimizeJobResult>(s.id, { timeoutMs: 30_000 })),
    );

    expect(ra).toEqual(rb); // same seed, same result (in two different threads)
    expect(ra).toEqual(reference(input)); // and the same as the plain computation here
    expect(rc).toEqual(reference({ ...input, seed: 8 }));
    expect(rc!.x).not.toEqual(ra!.x);
    for (const r of [ra!, rc!]) {
      expect(r).toMatchObject({ fn: "sphere", trials: 50, evaluations: 1 + 50 * 200 });
      expect(r.best).toBeLessThan(1e-6); // typically ~1e-16: ten orders of magnitude of margin
      expect(r.x).toHaveLength(5);
      for (const v of r.x) expect(Math.abs(v)).toBeLessThan(1e-3);
    }

    const seen = progress.get(a!.id)!;
    expect(seen.map((p) => p.trial)).toEqual(Array.from({ length: 51 }, (_, i) => i)); // 0 (start) .. 50
    expect(seen.every((p) => p.trials === 50 && p.resumedFrom === undefined)).toBe(true);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.best).toBeLessThanOrEqual(seen[i - 1]!.best);
    expect(seen.at(-1)!.best).toBe(ra!.best);

    const job = (await q.get(a!.id))!;
    expect(job.state).toBe("completed");
    expect(job.progress).toEqual(seen.at(-1));
    const checkpoint = job.checkpoint as OptimizeCheckpoint;
    expect(checkpoint).toMatchObject({ version: 1, trial: 50, best: ra!.best, bestX: ra!.x });
    expect(Object.keys(checkpoint.rng).sort()).toEqual(["spare", "state"]); // the PRNG travels with it
  });

  it("every benchmark function: the sandboxed result equals the in-process computation", async () => {
    const q = makeQueue();
    q.define("optimize", { module: HANDLER, isolation: "thread", poolSize: 2 });
    await q.start();
    const inputs = FUNCTION_NAMES.map((fn, i): OptimizeJobInput => ({
      fn,
      dims: 4 + i,
      trials: 20,
      evalsPerTrial: 500,
      seed: 100 + i,
    }));
    const subs = await q.submitMany(inputs.map((input) => ({ name: "optimize", input })));
    const results = await Promise.all(subs.map((s) => q.result<OptimizeJobResult>(s.id, { timeoutMs: 30_000 })));
    expect(results).toEqual(inputs.map(reference));
    for (const r of results) expect(Number.isFinite(r.best)).toBe(true);
  });

  it("cancel while running: the handler stops at the next trial, without the hard stop", async () => {
    const q = makeQueue();
    const cleanup = vi.fn();
    // a hard stop would come only after graceMs (10 s), and would run cleanup and replace the thread
    const handler = sandboxHandler({ module: HANDLER, isolation: "thread", poolSize: 1, graceMs: 10_000, cleanup });
    q.define("optimize", handler, { maxAttempts: 1 });
    const progress = recordProgress(q);
    await q.start();
    const input: OptimizeJobInput = { fn: "rastrigin", dims: 10, trials: 1_000_000, evalsPerTrial: 2000, seed: 3 };
    const { id } = await q.submit("optimize", input);
    await once(q, "progress", (e) => e.id === id && (e.progress as OptimizeJobProgress).trial >= 3);
    const [slot] = handler.sandbox.pool.live;
    expect(slot).toBeDefined();

    const cancelled = once(q, "cancelled", (e) => e.id === id);
    const t0 = performance.now();
    expect(await q.cancel(id, { reason: "enough" })).toBe(true);
    await cancelled;
    const stopMs = performance.now() - t0;

    expect(stopMs).toBeLessThan(2000); // a trial takes ~1 ms; the hard stop would take 10 s
    expect(cleanup).not.toHaveBeenCalled();
    expect(handler.sandbox.pool.live).toEqual([slot]); // the same thread: not killed, not replaced
    expect(slot!.dead).toBe(false);
    await expect(q.result(id)).rejects.toBeInstanceOf(JobCancelledError);
    const job = (await q.get(id))!;
    expect(job.state).toBe("cancelled");
    expect(job.cancelReason).toBe("enough");
    const last = progress.get(id)!.at(-1)!;
    expect(last.trial).toBeGreaterThanOrEqual(3);
    expect(last.trial).toBeLessThan(input.trials);

    // the thread is still good: the next job runs on it
    const next = await q.submit("optimize", { ...input, trials: 5 });
    expect(await q.result(next.id, { timeoutMs: 30_000 })).toEqual(reference({ ...input, trials: 5 }));
    expect(handler.sandbox.pool.live).toEqual([slot]);
  });

  it("a failed attempt: the retry resumes from the checkpoint at trial 30 and ends with the uninterrupted result", async () => {
    const q = makeQueue();
    q.define(
      "optimize",
      { module: HANDLER, isolation: "thread", poolSize: 1 },
      { maxAttempts: 3, backoff: { type: "fixed", delayMs: 10, jitter: false } },
    );
    const progress = recordProgress(q);
    const retrying = vi.fn();
    q.on("retrying", retrying);
    await q.start();
    const input: OptimizeJobInput = {
      fn: "rosenbrock",
      dims: 6,
      trials: 100,
      evalsPerTrial: 1000,
      seed: 11,
      checkpointEvery: 7, // 28 is the last regular checkpoint: the one at 30 is failAtTrial's
      failAtTrial: 30,
    };
    // the run still improves after trial 30, so a resume that lost any state would end differently
    expect(reference({ ...input, trials: 30 }).best).toBeGreaterThan(reference(input).best);
    const { id } = await q.submit("optimize", input);
    const result = await q.result<OptimizeJobResult>(id, { timeoutMs: 30_000 });

    expect(result).toEqual(reference(input));
    expect(retrying).toHaveBeenCalledTimes(1);
    const job = (await q.get(id))!;
    expect(job.attempt).toBe(2);
    expect(job.errors).toHaveLength(1);
    expect(job.errors[0]!.error.message).toMatch(/simulated failure after trial 30/);

    const seen = progress.get(id)!;
    const first = seen.filter((p) => p.resumedFrom === undefined);
    const second = seen.filter((p) => p.resumedFrom !== undefined);
    expect(first.map((p) => p.trial)).toEqual(Array.from({ length: 31 }, (_, i) => i)); // 0..30, then it failed
    expect(second.map((p) => p.trial)).toEqual(Array.from({ length: 71 }, (_, i) => 30 + i)); // 30..100
    expect(second.every((p) => p.resumedFrom === 30)).toBe(true);
    expect(second[0]!.best).toBe(first.at(-1)!.best); // the state came back exactly
    expect(job.progress).toEqual({ trial: 100, trials: 100, best: result.best, resumedFrom: 30 });
  });

  it("an invalid input fails at once, without retries", async () => {
    const q = makeQueue();
    q.define("optimize", { module: HANDLER, isolation: "thread", poolSize: 1 }, { maxAttempts: 3 });
    await q.start();
    const { id } = await q.submit("optimize", { fn: "himmelblau", dims: 2, trials: 1, evalsPerTrial: 1, seed: 1 });
    await expect(q.result(id, { timeoutMs: 30_000 })).rejects.toThrow(/input\.fn must be one of sphere/);
    const job = (await q.get(id))!;
    expect(job.state).toBe("failed");
    expect(job.attempt).toBe(1);
    expect(job.errors[0]!.error.code).toBe("OPTIQ_NON_RETRYABLE");
  });
});

// ---------------------------------------------------------------- real processes

describe.each(["thread", "process"] as const)("example optimize handler in worker processes on SQLite (%s)", (iso) => {
  const workers: WorkerProcess[] = [];
  let path = "";
  let producer: Optiq | null = null;

  afterEach(async () => {
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    await Promise.all(workers.splice(0).map((w) => w.exited));
    await producer?.stop();
    producer = null;
    for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
  });

  it("kill -9 after the checkpoint at trial 60 of 100: a second worker resumes at 60 and ends with the uninterrupted result", async () => {
    path = join(tmpdir(), `optiq-optimize-${process.pid}-${Math.random().toString(36).slice(2)}.db`);
    producer = new Optiq({ store: new SqliteStore({ path, pollIntervalMs: 20 }), pollIntervalMs: 100 });
    producer.declare("optimize");
    const env = { OPTIQ_SQLITE_PATH: path, LEASE_MS: "1000", SANDBOX_ISOLATION: iso };
    const spawnWorker = () => {
      const w = startWorker(env, WORKER);
      workers.push(w);
      return w;
    };

    const a = spawnWorker();
    await a.waitFor(/^ready$/);
    const input: OptimizeJobInput = {
      fn: "rosenbrock",
      dims: 8,
      trials: 100,
      evalsPerTrial: 1000,
      seed: 2024,
      pauseAtTrial: 60,
    };
    // the run still improves after trial 60, so a resume that lost any state would end differently
    expect(reference({ ...input, trials: 60 }).best).toBeGreaterThan(reference(input).best);
    const { id } = await producer.submit("optimize", input);
    // no event crosses processes: poll the store until the checkpoint of trial 60 is durable
    await expect
      .poll(async () => ((await producer!.get(id))?.checkpoint as OptimizeCheckpoint | null)?.trial, {
        timeout: 30_000,
        interval: 50,
      })
      .toBe(60);
    await a.waitFor(new RegExp(`^progress ${id} 60 -$`));
    a.child.kill("SIGKILL");
    expect((await a.exited).signal).toBe("SIGKILL");
    const trialsInA = a.lines.filter((l) => l.startsWith(`progress ${id} `)).map((l) => Number(l.split(" ")[2]));
    expect(trialsInA).toEqual(Array.from({ length: 61 }, (_, i) => i)); // paused at 60: nothing after it

    const b = spawnWorker();
    const result = await producer.result<OptimizeJobResult>(id, { timeoutMs: 60_000 });
    expect(result).toEqual(reference(input));

    expect(b.lines).toContain(`started ${id} 2`);
    const inB = b.lines.filter((l) => l.startsWith(`progress ${id} `));
    expect(inB[0]).toBe(`progress ${id} 60 60`); // the second attempt started from the checkpoint
    expect(inB.at(-1)).toBe(`progress ${id} 100 60`);
    expect(b.lines).toContain(`done ${id} 2`);
    const job = (await producer.get(id))!;
    expect(job.state).toBe("completed");
    expect(job.attempt).toBe(2);
    expect(job.errors.map((e) => e.error.code)).toEqual(["OPTIQ_LEASE_LOST"]);
    expect(job.progress).toEqual({ trial: 100, trials: 100, best: result.best, resumedFrom: 60 });
  });
});
