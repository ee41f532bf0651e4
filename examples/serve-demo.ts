/**
 * `npm start`: the handlers module that `optiq serve` loads for the demo
 * (`optiq serve --db .optiq/optiq.db --handlers examples/serve-demo.ts`).
 *
 * It defines the demo's handlers — "optimize": a (1+1)-evolution strategy on
 * a standard benchmark function (examples/lib/optimize.ts); "tune": a heavier,
 * checkpointed run in a pool of worker threads — and, when the store holds
 * no job yet, submits the demo batch: 1000 optimization jobs with
 * priorities, a rate-limited group ("gpu": 4 at a time, at most 50 starts
 * per second), flaky jobs whose first attempt fails and is retried, a few
 * misconfigured ones that fail for good, cancellations of queued and of
 * running jobs, and 4 sandboxed "tune" jobs. Open the dashboard to watch
 * them (starts are paced at 20 per second, so the batch runs for about a
 * minute); stop with Ctrl-C, and `npm start` again resumes what was left.
 */
import { NonRetryableError, type Optiq, type OptiqOptions, type SubmitManyItem } from "../src/index.js";
import { FUNCTION_NAMES, type FunctionName } from "./lib/functions.js";
import { optimize, type OptimizeInput, type OptimizeResult } from "./lib/optimize.js";
import { Rng } from "./lib/prng.js";

const JOBS = 1000;
const TUNE_JOBS = 4;
const SEED = 20_240_601;
const GPU = "gpu";

interface JobInput extends OptimizeInput {
  /** Simulates a flaky device: the first attempt fails with a transient error. */
  flakyFirstAttempt?: boolean;
}

/** Merged into the queue's options by `optiq serve`. */
export const options: Omit<OptiqOptions, "store"> = {
  concurrency: 8,
  // paced, so the dashboard shows the batch at work for about a minute rather than a few seconds
  rateLimit: { limit: 20, intervalMs: 1000 },
  groups: { [GPU]: { concurrency: 4, rateLimit: { limit: 50, intervalMs: 1000 } } },
  defaults: { maxAttempts: 3, backoff: { type: "fixed", delayMs: 100, jitter: false }, timeoutMs: 60_000 },
};

export default async function setup(queue: Optiq): Promise<void> {
  queue.define<JobInput, OptimizeResult>("optimize", async (job, ctx) => {
    const input = job.input;
    if (input.dims * 400 > input.budget) {
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
    module: new URL("./handlers/optimize-handler.ts", import.meta.url),
    isolation: "thread",
    poolSize: 2,
  });

  const existing = await queue.list({ limit: 1 });
  if (existing.length > 0) return; // a restart: the store's jobs carry on where they were
  await submitDemoBatch(queue);
}

async function submitDemoBatch(queue: Optiq): Promise<void> {
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
  const submitted = await queue.submitMany(items);
  const tunes = await queue.submitMany(
    Array.from({ length: TUNE_JOBS }, (_, i) => ({
      name: "tune",
      input: { fn: "rastrigin", dims: 10, trials: 40, evalsPerTrial: 4000, seed: SEED + i },
      options: { priority: 5 },
    })),
  );

  // a few low-priority jobs far back in the queue are cancelled before they start
  for (const s of submitted.slice(-40).filter((_, i) => i % 8 === 1)) {
    await queue.cancel(s.id, { reason: "demo: cancelled while queued" });
  }
  // and a few, one sandboxed tune job among them, at their first progress report
  const cancelWhileRunning = new Set([101, 353, 607].map((i) => submitted[i]!.id));
  cancelWhileRunning.add(tunes[TUNE_JOBS - 1]!.id);
  const off = queue.on("progress", (e) => {
    if (!cancelWhileRunning.delete(e.id)) return;
    void queue.cancel(e.id, { reason: "demo: cancelled while running" });
    if (cancelWhileRunning.size === 0) off();
  });
}
