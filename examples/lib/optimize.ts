import { FUNCTIONS, type FunctionName } from "./functions.js";
import { Rng } from "./prng.js";

export interface OptimizeInput {
  fn: FunctionName;
  dims: number;
  /** Objective evaluations allowed. */
  budget: number;
  seed: number;
}

export interface OptimizeResult {
  best: number;
  x: number[];
  evaluations: number;
}

export interface OptimizeHooks {
  signal: AbortSignal;
  /** Called every `progressEvery` evaluations with the best value so far. */
  progress: (p: { iter: number; best: number }) => void;
}

/** Evaluations between yields to the event loop: the queue, timers and I/O stay responsive. */
const YIELD_EVERY = 250;
const PROGRESS_EVERY = 2000;
/** Step-size adaptation window of the 1/5th success rule. */
const WINDOW = 20;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A (1+1)-evolution strategy with the 1/5th success rule and restarts: mutate
 * the current point with Gaussian noise of scale sigma, keep the child if it
 * is no worse; every WINDOW steps grow sigma if more than a fifth of them
 * succeeded, shrink it otherwise; restart from a random point when sigma
 * collapses (multimodal functions trap a single run in a local minimum).
 * Stops early, throwing the signal's reason, when the job is aborted.
 */
export async function optimize(input: OptimizeInput, hooks: OptimizeHooks): Promise<OptimizeResult> {
  const { f, lo, hi } = FUNCTIONS[input.fn];
  const rng = new Rng(input.seed);
  const span = hi - lo;
  const clamp = (v: number): number => (v < lo ? lo : v > hi ? hi : v);
  const randomPoint = (): number[] => Array.from({ length: input.dims }, () => rng.uniform(lo, hi));

  let evaluations = 0;
  const evaluate = (p: readonly number[]): number => {
    evaluations++;
    return f(p);
  };
  let x = randomPoint();
  let fx = evaluate(x);
  let sigma = 0.3 * span;
  let bestX = x;
  let best = fx;
  let successes = 0;
  const y = new Array<number>(input.dims);
  for (let step = 1; evaluations < input.budget; step++) {
    for (let i = 0; i < input.dims; i++) y[i] = clamp(x[i]! + sigma * rng.gaussian());
    const fy = evaluate(y);
    if (fy <= fx) {
      x = y.slice();
      fx = fy;
      successes++;
      if (fy < best) {
        best = fy;
        bestX = x;
      }
    }
    if (step % WINDOW === 0) {
      sigma *= successes > WINDOW / 5 ? 1.22 : 0.82;
      successes = 0;
      if (sigma < 1e-9 * span && evaluations < input.budget) {
        x = randomPoint();
        fx = evaluate(x);
        sigma = 0.3 * span;
      }
    }
    if (step % PROGRESS_EVERY === 0) hooks.progress({ iter: evaluations, best });
    if (step % YIELD_EVERY === 0) {
      await yieldToLoop();
      if (hooks.signal.aborted) throw hooks.signal.reason;
    }
  }
  return { best, x: bestX.map((v) => Math.round(v * 1e4) / 1e4), evaluations };
}
