import { FUNCTIONS, FUNCTION_NAMES, type FunctionName } from "./functions.js";
import { Rng, type RngState } from "./prng.js";

/**
 * A resumable (1+1)-evolution strategy, cut into "trials" of a fixed number of
 * objective evaluations. Between trials its whole state is a plain JSON value
 * (EsState: the PRNG's state included), so a run saved after trial k and
 * continued elsewhere ends exactly as an uninterrupted run: same best value,
 * same point, same evaluation count, bit for bit.
 *
 * Within a trial the work is synchronous and CPU-bound (no awaits): a trial
 * occupies one core. The search itself is the demo's optimizer (examples/lib/
 * optimize.ts): Gaussian mutation of scale sigma, the child kept if no worse,
 * sigma adapted by the 1/5th success rule every WINDOW steps, and a restart
 * from a random point when sigma collapses (multimodal functions trap one run
 * in a local minimum).
 */

export interface TrialsConfig {
  fn: FunctionName;
  dims: number;
  /** Objective evaluations per trial. */
  evalsPerTrial: number;
}

export interface OptimizationInput extends TrialsConfig {
  trials: number;
  seed: number;
}

/** The full state between two trials: JSON-serialisable, and enough to continue exactly. */
export interface EsState {
  /** Trials completed so far. */
  trial: number;
  /** Objective evaluations so far (the initial point's included). */
  evaluations: number;
  rng: RngState;
  /** The current point of the strategy, its value and its step size. */
  x: number[];
  fx: number;
  sigma: number;
  /** Steps since the last step-size adaptation, and how many of them improved. */
  windowSteps: number;
  successes: number;
  /** Restarts after sigma collapsed. */
  restarts: number;
  /** Best point and value seen so far. */
  bestX: number[];
  best: number;
}

export interface OptimizationResult {
  fn: FunctionName;
  /** Best objective value found. */
  best: number;
  /** Where it was found (full precision). */
  x: number[];
  trials: number;
  evaluations: number;
}

/** Step-size adaptation window of the 1/5th success rule. */
const WINDOW = 20;
const INITIAL_SIGMA = 0.3;
const COLLAPSED_SIGMA = 1e-9;

/** The state before the first trial: a random starting point, evaluated once. */
export function initialState(config: TrialsConfig, seed: number): EsState {
  const { f, lo, hi } = FUNCTIONS[config.fn];
  const rng = new Rng(seed);
  const x = Array.from({ length: config.dims }, () => rng.uniform(lo, hi));
  const fx = f(x);
  return {
    trial: 0,
    evaluations: 1,
    rng: rng.getState(),
    x,
    fx,
    sigma: INITIAL_SIGMA * (hi - lo),
    windowSteps: 0,
    successes: 0,
    restarts: 0,
    bestX: x.slice(),
    best: fx,
  };
}

/**
 * Runs one trial (config.evalsPerTrial evaluations) synchronously and
 * updates `state` in place.
 */
export function runTrial(state: EsState, config: TrialsConfig): void {
  const { f, lo, hi } = FUNCTIONS[config.fn];
  const span = hi - lo;
  const dims = config.dims;
  const rng = Rng.fromState(state.rng);
  let x = state.x.slice();
  let y = new Array<number>(dims);
  let { fx, sigma, windowSteps, successes, best } = state;
  let bestX = state.bestX;
  for (let done = 0; done < config.evalsPerTrial;) {
    for (let i = 0; i < dims; i++) {
      const v = x[i]! + sigma * rng.gaussian();
      y[i] = v < lo ? lo : v > hi ? hi : v;
    }
    const fy = f(y);
    done++;
    if (fy <= fx) {
      const old = x;
      x = y;
      y = old;
      fx = fy;
      successes++;
      if (fy < best) {
        best = fy;
        bestX = x.slice();
      }
    }
    if (++windowSteps === WINDOW) {
      sigma *= successes > WINDOW / 5 ? 1.22 : 0.82;
      windowSteps = 0;
      successes = 0;
      if (sigma < COLLAPSED_SIGMA * span && done < config.evalsPerTrial) {
        for (let i = 0; i < dims; i++) x[i] = rng.uniform(lo, hi);
        fx = f(x);
        done++;
        sigma = INITIAL_SIGMA * span;
        state.restarts++;
        if (fx < best) {
          best = fx;
          bestX = x.slice();
        }
      }
    }
  }
  state.trial++;
  state.evaluations += config.evalsPerTrial;
  state.rng = rng.getState();
  state.x = x;
  state.fx = fx;
  state.sigma = sigma;
  state.windowSteps = windowSteps;
  state.successes = successes;
  state.bestX = bestX;
  state.best = best;
}

/** A deep copy of the state (a checkpoint must not change when the run goes on). */
export function copyState(state: EsState): EsState {
  return { ...state, rng: { ...state.rng }, x: state.x.slice(), bestX: state.bestX.slice() };
}

export function resultOf(config: TrialsConfig, state: EsState): OptimizationResult {
  return {
    fn: config.fn,
    best: state.best,
    x: state.bestX.slice(),
    trials: state.trial,
    evaluations: state.evaluations,
  };
}

/** The whole run, synchronously and uninterrupted: the reference a resumed run must equal. */
export function runOptimization(input: OptimizationInput): OptimizationResult {
  const state = initialState(input, input.seed);
  while (state.trial < input.trials) runTrial(state, input);
  return resultOf(input, state);
}

/**
 * Checks an input; returns what is wrong, or null. Each count is a positive
 * integer (dims at most 1000); seed any safe integer.
 */
export function inputProblem(input: unknown): string | null {
  if (typeof input !== "object" || input === null) return "input must be an object";
  const i = input as Record<string, unknown>;
  if (typeof i.fn !== "string" || !(FUNCTION_NAMES as string[]).includes(i.fn)) {
    return `input.fn must be one of ${FUNCTION_NAMES.join(", ")}, got ${JSON.stringify(i.fn)}`;
  }
  const counts: [string, number][] = [
    ["dims", 1000],
    ["trials", 1e9],
    ["evalsPerTrial", 1e12],
  ];
  for (const [key, max] of counts) {
    const v = i[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max) {
      return `input.${key} must be an integer in [1, ${max}], got ${JSON.stringify(v)}`;
    }
  }
  if (typeof i.seed !== "number" || !Number.isSafeInteger(i.seed)) {
    return `input.seed must be an integer, got ${JSON.stringify(i.seed)}`;
  }
  return null;
}

/**
 * `value` as an EsState for this configuration, or null when it is not one
 * (a checkpoint from another input or another version of this code).
 */
export function asState(value: unknown, config: TrialsConfig): EsState | null {
  if (typeof value !== "object" || value === null) return null;
  const s = value as Partial<Record<keyof EsState, unknown>>;
  const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  const isInt = (v: unknown): v is number => isNum(v) && Number.isInteger(v) && v >= 0;
  const isPoint = (v: unknown): v is number[] => Array.isArray(v) && v.length === config.dims && v.every(isNum);
  const rng = s.rng as Partial<RngState> | undefined;
  const ok =
    isInt(s.trial) &&
    isInt(s.evaluations) &&
    isInt(s.windowSteps) &&
    isInt(s.successes) &&
    isInt(s.restarts) &&
    isNum(s.fx) &&
    isNum(s.sigma) &&
    isNum(s.best) &&
    isPoint(s.x) &&
    isPoint(s.bestX) &&
    typeof rng === "object" &&
    rng !== null &&
    isInt(rng.state) &&
    (rng.spare === null || isNum(rng.spare));
  return ok ? copyState(value as EsState) : null;
}
