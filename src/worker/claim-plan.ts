import type { SlidingWindowLimiter } from "../core/rate-limiter.js";
import type { ResolvedDefinition } from "./definition.js";

/**
 * With prefetch "auto": buffer about this much work, by the recent mean run
 * time. 20 ms rather than more: a worker's first prefetch is claimed together with
 * the slots that just freed, so its size delays the next jobs' start (a
 * 500-job claim took ~10 ms under load, a 300-job one ~4 ms); refills then run
 * beside the work, and short jobs hit the 1000 cap either way.
 */
const PREFETCH_TARGET_MS = 20;
const PREFETCH_MAX = 1000;

/**
 * How many jobs to hold beyond the free slots. The run time is the mean of
 * the attempts finished here (`meanRunMs`); before any has finished, it is
 * guessed to be PREFETCH_TARGET_MS (one more wave of work), or the age of the
 * oldest running attempt (`runningForMs`) once that is longer: a lower bound
 * that shrinks the guess while long jobs run. A wrong guess costs little:
 * prefetched jobs go back to the queue after PREFETCH_HOLD_MS (prefetch-hold.ts).
 */
export function prefetchLimit(
  prefetch: number | "auto",
  concurrency: number,
  meanRunMs: number | null,
  runningForMs: number | null = null,
): number {
  if (prefetch !== "auto") return prefetch;
  const runMs = meanRunMs ?? Math.max(PREFETCH_TARGET_MS, runningForMs ?? 0);
  const slots = concurrency === Infinity ? PREFETCH_MAX : concurrency;
  return Math.min(PREFETCH_MAX, Math.round((slots * PREFETCH_TARGET_MS) / Math.max(runMs, 0.01)));
}

/** The jobs claimed and not started yet (the worker's PrefetchBuffer). */
export interface Buffered {
  readonly size: number;
  countOf(name: string): number;
}

/** What limits a claim besides the free slots (the worker's config). */
export interface ClaimLimits {
  readonly rateLimiter: SlidingWindowLimiter | null;
  readonly definitions: ReadonlyMap<string, ResolvedDefinition>;
}

/**
 * The totals of a claim plan, written by planClaim. The worker reuses one:
 * a claim may follow every finished job, so planning must not cost an object.
 */
export class ClaimPlan {
  /** Jobs to ask for in all. */
  limit = 0;
  /** When a rate limit that holds jobs back allows a start again; null if none does. */
  wakeAt: number | null = null;
  /**
   * This worker's own limits (rate limits, per-name concurrency) asked for
   * less than the free slots allow: a short claim then does not mean the
   * store ran out of work, and a freed slot may let more be claimed.
   */
  heldBack = false;
}

/**
 * Plans one claim from `free` slots, `prefetch` jobs wanted beyond them and
 * the jobs already `buffered`: writes the limit and the rate-limit wake-up
 * into `plan`, and returns each runnable name's budget (its free slots and
 * rate-limit tokens; names with none are left out, so empty means claim
 * nothing). Touches nothing but the limiters, which drop expired starts.
 */
export function planClaim(
  plan: ClaimPlan,
  now: number,
  free: number,
  prefetch: number,
  buffered: Buffered,
  { rateLimiter, definitions }: ClaimLimits,
): Map<string, number> {
  let wakeAt: number | null = null;
  let heldBack = false;
  if (rateLimiter && free > 0) {
    const tokens = rateLimiter.available(now);
    if (tokens === 0) wakeAt = rateLimiter.nextAvailableAt(now);
    heldBack = tokens < free;
    free = Math.min(free, tokens);
  }
  // rate-limited starts are decided at start time: prefetching them would only hold leases
  const room = rateLimiter ? 0 : Math.max(0, prefetch - buffered.size);
  const limit = Math.max(0, free - buffered.size) + room;
  const names = new Map<string, number>();
  if (limit > 0) {
    for (const def of definitions.values()) {
      if (!def.handler) continue;
      const limited = def.limiter !== null || def.concurrency !== Infinity;
      let n = limited ? Math.min(limit, def.concurrency - def.busy - buffered.countOf(def.name)) : limit;
      if (def.limiter && n > 0) {
        const tokens = def.limiter.available(now);
        if (tokens === 0) wakeAt = earliest(wakeAt, def.limiter.nextAvailableAt(now));
        n = Math.min(n, tokens);
      }
      if (n < limit) heldBack = true;
      if (n > 0) names.set(def.name, n);
    }
  }
  plan.limit = limit;
  plan.wakeAt = wakeAt;
  plan.heldBack = heldBack;
  return names;
}

/** The earlier of two times; null is "never". */
export function earliest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}
