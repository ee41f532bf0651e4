import type { BackoffSpec } from "./job.js";

export const DEFAULT_BACKOFF: BackoffSpec = { type: "exponential", baseMs: 1000, maxMs: 5 * 60_000, jitter: true };

/** A user's custom backoff: attempt is the attempt that just failed (1-based). */
export type BackoffFunction = (attempt: number, error: unknown) => number;

/**
 * Delay before the attempt after `attempt` failed. Jitter is "full jitter"
 * over the upper half, so retries of many jobs that failed together spread out
 * without ever retrying sooner than half the nominal delay.
 */
export function backoffDelay(spec: BackoffSpec, attempt: number, random: () => number = Math.random): number {
  const nominal =
    spec.type === "fixed" ? spec.delayMs : Math.min(spec.maxMs, spec.baseMs * 2 ** Math.max(0, attempt - 1));
  if (!spec.jitter) return nominal;
  return Math.round(nominal / 2 + random() * (nominal / 2));
}
