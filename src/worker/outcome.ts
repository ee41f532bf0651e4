import { backoffDelay } from "../core/backoff.js";
import {
  JobCancelledError,
  JobStuckError,
  JobTimeoutError,
  NonRetryableError,
  OptiqError,
  PayloadTooLargeError,
  RetryAfterError,
  ShutdownError,
  ValidationError,
} from "../core/errors.js";
import { serializeError } from "../core/serialize-error.js";
import { toJson } from "../core/validate.js";
import type { Outcome } from "../store/port.js";
import type { Execution } from "./execution.js";

/** What an attempt that threw (or timed out) leads to: another attempt or failure. */
export function outcomeOfError(exec: Execution, error: unknown, now: number): Outcome {
  const serialized = serializeError(error);
  const { attempt } = exec.job;
  const permanent =
    error instanceof NonRetryableError || error instanceof ValidationError || error instanceof PayloadTooLargeError;
  if (permanent || attempt >= exec.job.maxAttempts) return { kind: "failed", error: serialized };
  const def = exec.def;
  let delay = def.backoffFn ? safeDelay(def.backoffFn(attempt, error)) : backoffDelay(exec.job.backoff, attempt);
  if (error instanceof RetryAfterError) delay = Math.max(delay, error.retryAfterMs);
  return { kind: "retry", error: serialized, runAt: now + delay };
}

export function outcomeOfValue(exec: Execution, value: unknown, maxBytes: number, now: number): Outcome {
  try {
    return new CompletedOutcome(toJson("result", value, maxBytes));
  } catch (err) {
    // a result that cannot be stored would be the same on every retry
    return outcomeOfError(exec, err, now);
  }
}

/** One per successful attempt: a class, so V8 never pretenures it (see Settlement). */
class CompletedOutcome {
  readonly kind = "completed";
  constructor(readonly resultJson: string) {}
}

/** The outcome of an attempt stopped by its signal. */
export function outcomeOfAbort(exec: Execution, reason: OptiqError, now: number): Outcome | null {
  if (reason instanceof JobCancelledError) return { kind: "cancelled", reason: reason.reason };
  if (reason instanceof ShutdownError) return { kind: "cancelled", reason: "shutdown" };
  if (reason instanceof JobTimeoutError || reason instanceof JobStuckError) return outcomeOfError(exec, reason, now);
  return null; // lease lost: the store refuses any outcome from us
}

function safeDelay(ms: number): number {
  return Number.isFinite(ms) && ms >= 0 ? ms : 0;
}

/**
 * Says in the job itself that its work may go on (a zombie): in the attempt's
 * error message, or as the note of a cancellation (appended to its error).
 */
export function withNote(outcome: Outcome, note: string): Outcome {
  switch (outcome.kind) {
    case "retry":
    case "failed":
      return { ...outcome, error: { ...outcome.error, message: `${outcome.error.message}; ${note}` } };
    case "cancelled":
      return { ...outcome, note };
    default:
      return outcome;
  }
}
