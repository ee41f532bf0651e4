/**
 * A sandbox handler module (default export): minimises a standard benchmark
 * function (Sphere, Rosenbrock, Rastrigin, Ackley) with a resumable
 * (1+1)-evolution strategy, in `trials` trials of `evalsPerTrial` objective
 * evaluations each (see examples/lib/resumable-es.ts).
 *
 *   queue.define("optimize", {
 *     module: new URL("./handlers/optimize-handler.ts", import.meta.url),
 *     isolation: "thread",
 *   });
 *
 * - A trial is synchronous, CPU-bound work: it occupies one core of the pool.
 * - Between trials it reports progress `{ trial, trials, best, resumedFrom? }`,
 *   yields to the event loop (so the abort message can arrive) and stops with
 *   the signal's reason once the job is cancelled, timed out or shut down.
 * - Every `checkpointEvery` trials (default 10) it checkpoints its whole
 *   state, the PRNG's included; a later attempt resumes from job.checkpoint,
 *   and ends with exactly the result of an uninterrupted run.
 * - Test hooks, on attempt 1 only: `failAtTrial` throws after checkpointing
 *   that trial; `pauseAtTrial` checkpoints that trial and then waits (until
 *   aborted, at most 10 minutes) so a test can kill the process at a known point.
 */
import type { HandlerContext, RunningJob } from "../../src/index.js";
// the errors module alone ("optiq" in your project): a sandbox loads only what it needs
import { NonRetryableError } from "../../src/core/errors.js";
import {
  asState,
  copyState,
  initialState,
  inputProblem,
  resultOf,
  runTrial,
  type EsState,
  type OptimizationInput,
  type OptimizationResult,
} from "../lib/resumable-es.js";

export interface OptimizeJobInput extends OptimizationInput {
  /** Trials between checkpoints. Default 10. */
  checkpointEvery?: number;
  /** Test hook (attempt 1): checkpoint this trial, then block until aborted. */
  pauseAtTrial?: number;
  /** Test hook (attempt 1): checkpoint this trial, then fail the attempt. */
  failAtTrial?: number;
}

export interface OptimizeJobProgress {
  /** Trials completed. */
  trial: number;
  trials: number;
  /** Best value so far. */
  best: number;
  /** The trial this attempt resumed from (its checkpoint's); absent on a fresh start. */
  resumedFrom?: number;
}

/** The checkpoint: the optimizer's whole state between two trials, versioned. */
export type OptimizeCheckpoint = EsState & { version: 1 };

export type OptimizeJobResult = OptimizationResult;

const DEFAULT_CHECKPOINT_EVERY = 10;
const PAUSE_LIMIT_MS = 10 * 60_000;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export default async function optimizeHandler(
  job: RunningJob<OptimizeJobInput>,
  ctx: HandlerContext,
): Promise<OptimizeJobResult> {
  const input = job.input;
  const problem = inputProblem(input) ?? hookProblem(input);
  if (problem !== null) throw new NonRetryableError(problem); // retrying cannot fix the input
  const every = input.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  const firstAttempt = job.attempt === 1;

  const saved = (job.checkpoint as Partial<OptimizeCheckpoint> | null)?.version === 1 ? job.checkpoint : null;
  const resumed = asState(saved, input);
  const state = resumed ?? initialState(input, input.seed);
  const resumedFrom = resumed ? { resumedFrom: resumed.trial } : {};
  const report = (): void =>
    ctx.progress({ trial: state.trial, trials: input.trials, best: state.best, ...resumedFrom });

  report();
  while (state.trial < input.trials) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    runTrial(state, input);
    const t = state.trial;
    const pause = firstAttempt && t === input.pauseAtTrial;
    const fail = firstAttempt && t === input.failAtTrial;
    if (t % every === 0 || pause || fail) ctx.checkpoint({ version: 1, ...copyState(state) });
    report();
    if (fail) throw new Error(`optimize: simulated failure after trial ${t} (failAtTrial)`);
    if (pause) await pauseUntilAborted(ctx.signal);
    await yieldToLoop(); // lets the abort message in
  }
  return resultOf(input, state);
}

function hookProblem(input: OptimizeJobInput): string | null {
  for (const key of ["checkpointEvery", "pauseAtTrial", "failAtTrial"] as const) {
    const v = input[key];
    if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v < 1)) {
      return `input.${key} must be a positive integer, got ${JSON.stringify(v)}`;
    }
  }
  return null;
}

/** Blocks until the signal aborts (then throws its reason), or gives up after PAUSE_LIMIT_MS. */
function pauseUntilAborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, PAUSE_LIMIT_MS);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
}
