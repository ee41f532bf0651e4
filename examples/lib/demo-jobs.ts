/**
 * The demo's jobs, shared by `npm start` (examples/serve-demo.ts, behind the
 * server and dashboard) and `npm run demo` (examples/optimization-demo.ts,
 * in one process): the handlers, the queue options they expect, and the
 * batch. Everything random comes from a seeded PRNG, so every run submits
 * the same jobs and finds the same optima.
 */
import { NonRetryableError, type Optiq, type OptiqOptions, type SubmitManyItem } from "../../src/index.js";
import { FUNCTION_NAMES, type FunctionName } from "./functions.js";
import { optimize, type OptimizeInput, type OptimizeResult } from "./optimize.js";
import { Rng } from "./prng.js";

export const JOBS = 1000;
export const TUNE_JOBS = 4;
export const SEED = 20_240_601;
/** A rate-limited group: 4 at a time, at most 50 starts per second. */
export const GPU = "gpu";

export interface JobInput extends OptimizeInput {
  /** Simulates a flaky device: the first attempt fails with a transient error. */
  flakyFirstAttempt?: boolean;
}

export interface TuneResult {
  fn: string;
  best: number;
  trials: number;
  evaluations: number;
}

export const DEMO_OPTIONS = {
  concurrency: 8,
  groups: { [GPU]: { concurrency: 4, rateLimit: { limit: 50, intervalMs: 1000 } } },
  defaults: { maxAttempts: 3, backoff: { type: "fixed", delayMs: 100, jitter: false }, timeoutMs: 60_000 },
} satisfies Omit<OptiqOptions, "store">;

/**
 * "optimize": a (1+1)-evolution strategy on a standard benchmark function,
 * in process; "tune": a heavier, checkpointed run in a pool of worker threads.
 */
export function defineDemoHandlers(queue: Optiq): void {
  queue.define<JobInput, OptimizeResult>("optimize", async (job, ctx) => {
    const input = job.input;
    if (input.dims * 400 > input.budget) {
      // retrying cannot help: the job is misconfigured
      throw new NonRetryableError(`budget ${input.budget} is too small for ${input.dims} dimensions`);
    }
    if (input.flakyFirstAttempt && job.attempt === 1) {
      throw new Error("simulated transient device error (the retry succeeds)");
    }
    // `fraction` is what progress bars (the dashboard, `optiq watch`) draw
    return optimize(input, {
      signal: ctx.signal,
      progress: (p) => ctx.progress({ ...p, fraction: p.iter / input.budget }),
    });
  });
  queue.define("tune", {
    module: new URL("../handlers/optimize-handler.ts", import.meta.url),
    isolation: "thread",
    poolSize: 2,
  });
}

/** The optimize jobs: every tenth urgent, a fifth in the GPU group (a few flaky), a few misconfigured. */
export function optimizeItems(): SubmitManyItem[] {
  const rng = new Rng(SEED);
  const items: SubmitManyItem[] = [];
  for (let i = 0; i < JOBS; i++) {
    const fn: FunctionName = FUNCTION_NAMES[i % FUNCTION_NAMES.length]!;
    const dims = rng.int(2, 10);
    const input: JobInput = { fn, dims, budget: 3000 + 1500 * dims, seed: rng.int(1, 2 ** 31 - 1) };
    if (i % 97 === 13) input.budget = dims * 100; // misconfigured: fails for good
    const gpu = rng.next() < 0.2;
    if (gpu && rng.next() < 0.1) input.flakyFirstAttempt = true;
    items.push({
      name: "optimize",
      input,
      options: { priority: i % 10 === 0 ? 10 : 0, ...(gpu ? { group: GPU } : {}) },
    });
  }
  return items;
}

/** The sandboxed jobs: 10-dimensional Rastrigin, checkpointed trial by trial. */
export function tuneItems(): SubmitManyItem[] {
  return Array.from({ length: TUNE_JOBS }, (_, i) => ({
    name: "tune",
    input: { fn: "rastrigin", dims: 10, trials: 40, evalsPerTrial: 4000, seed: SEED + i },
    options: { priority: 5 },
  }));
}

/** Low-priority jobs far back in the queue: cancelled before they start. */
export function toCancelWhileQueued<T>(optimizeJobs: readonly T[]): T[] {
  return optimizeJobs.slice(-40).filter((_, i) => i % 8 === 1);
}

/** Jobs cancelled at their first progress report: three optimize jobs and the last tune job. */
export function toCancelWhileRunning(optimizeIds: readonly string[], tuneIds: readonly string[]): Set<string> {
  return new Set([...[101, 353, 607].map((i) => optimizeIds[i]!), tuneIds[tuneIds.length - 1]!]);
}
