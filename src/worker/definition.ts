import type { BackoffFunction } from "../core/backoff.js";
import type { Handler } from "../core/definition.js";
import type { BackoffSpec } from "../core/job.js";
import type { SlidingWindowLimiter } from "../core/rate-limiter.js";

/** A job name as the worker runs it: options resolved against the queue's defaults. */
export interface ResolvedDefinition {
  readonly name: string;
  /** Absent for names only declared (submitted here, run by workers elsewhere). */
  readonly handler: Handler | undefined;
  readonly concurrency: number;
  readonly limiter: SlidingWindowLimiter | null;
  readonly timeoutMs: number | null;
  readonly maxAttempts: number;
  readonly backoff: BackoffSpec;
  readonly backoffFn: BackoffFunction | null;
  readonly priority: number;
  readonly abortGraceMs: number;
  readonly stuckAfterMs: number | null;
  readonly onStuck: "report" | "abort";
  /** Handlers of this name still running here (slots in use). */
  busy: number;
}

/** For a claimed job whose name has no definition here (never expected): fails it once, never loses it. */
export function fallbackDefinition(name: string): ResolvedDefinition {
  return {
    name,
    handler: undefined,
    concurrency: 1,
    limiter: null,
    timeoutMs: null,
    maxAttempts: 1,
    backoff: { type: "fixed", delayMs: 1000, jitter: false },
    backoffFn: null,
    priority: 0,
    abortGraceMs: 0,
    stuckAfterMs: null,
    onStuck: "report",
    busy: 0,
  };
}
