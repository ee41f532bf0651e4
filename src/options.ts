import { DEFAULT_BACKOFF, type BackoffFunction } from "./core/backoff.js";
import type { Clock } from "./core/clock.js";
import type { DefineOptions } from "./core/definition.js";
import { ValidationError } from "./core/errors.js";
import type { BackoffSpec } from "./core/job.js";
import type { Logger } from "./core/logger.js";
import type { RateLimit } from "./core/rate-limiter.js";
import {
  MAX_TIMER_MS,
  checkBackoff,
  checkDuration,
  checkInteger,
  checkPriority,
  checkRateLimit,
  checkString,
  checkTimeout,
} from "./core/validate.js";
import type { GroupLimits, Retention, Store } from "./store/port.js";

export interface OptiqOptions {
  /** Where jobs live. Default: a new in-memory store. */
  store?: Store;
  /** Jobs running at once in this process. Default 10. */
  concurrency?: number;
  /** Starts per interval across all jobs of this process. Default: unlimited. */
  rateLimit?: RateLimit;
  /** Limits per group key, enforced by the store (fleet-wide on shared stores). */
  groups?: Record<string, GroupLimits>;
  /** Most jobs waiting (queued or delayed); beyond it submit rejects with QueueFullError or waits. Default: unlimited. */
  maxQueued?: number;
  /** Largest serialised input, result, progress or checkpoint, in bytes. Default 1 MiB. */
  maxPayloadBytes?: number;
  /** Finished jobs kept for inspection and result(). Default: 24 h and 10,000 jobs. */
  retention?: Partial<Retention>;
  /** Defaults for every job name; define() and submit() override them. */
  defaults?: Omit<DefineOptions, "concurrency" | "rateLimit">;
  /** How long a worker's lease lasts without a heartbeat. Default 30 s; heartbeats every third of it. */
  leaseMs?: number;
  /**
   * Jobs claimed ahead of free slots, so the next one starts the moment a slot
   * frees and claims come in batches. "auto" (the default on durable stores,
   * where a claim is a database round trip) holds about 20 ms of work by the
   * recent mean run time: hundreds of short jobs, none of long ones. Before
   * any job has finished here it claims one wave more than the free slots,
   * and hands back to the queue any job that waited 1 s without starting. The
   * memory store defaults to 0. Prefetched jobs are leased to this worker;
   * stop() hands them back unstarted.
   */
  prefetch?: number | "auto";
  /** Backstop polling for stores shared with other processes. Default 1 s (memory store: off). */
  pollIntervalMs?: number;
  /** health(): a running job without progress for this long is reported. Default 10 min. */
  stuckAfterMs?: number;
  /** health(): queued work, free slots and no start for this long means the scheduler stalled. Default 30 s. */
  stallAfterMs?: number;
  /** health(): event-loop delay (p99) above this is reported. Default 200 ms. */
  eventLoopLagMs?: number;
  /** pino-compatible logger. Default: silent. */
  logger?: Logger;
  /** Injected time source, for tests. Default: the system clock. */
  clock?: Clock;
  /** This worker's id in leases. Default: host:pid:random. */
  workerId?: string;
}

export interface ResolvedJobDefaults {
  timeoutMs: number | null;
  maxAttempts: number;
  backoff: BackoffSpec;
  backoffFn: BackoffFunction | null;
  priority: number;
  abortGraceMs: number;
  /** null: use the queue's health threshold. */
  stuckAfterMs: number | null;
  onStuck: "report" | "abort";
}

export const MAX_ATTEMPTS = 1000;

export function resolveJobDefaults(
  field: string,
  o: Omit<DefineOptions, "concurrency" | "rateLimit"> | undefined,
  base: ResolvedJobDefaults,
): ResolvedJobDefaults {
  if (o === undefined) return base;
  if (typeof o !== "object" || o === null) throw new ValidationError(field, "must be an options object");
  const out = { ...base };
  if (o.timeoutMs !== undefined) out.timeoutMs = checkTimeout(`${field}.timeoutMs`, o.timeoutMs);
  if (o.maxAttempts !== undefined)
    out.maxAttempts = checkInteger(`${field}.maxAttempts`, o.maxAttempts, 1, MAX_ATTEMPTS);
  if (o.priority !== undefined) out.priority = checkPriority(`${field}.priority`, o.priority);
  if (o.abortGraceMs !== undefined) out.abortGraceMs = checkDuration(`${field}.abortGraceMs`, o.abortGraceMs);
  if (o.stuckAfterMs !== undefined) {
    out.stuckAfterMs = checkDuration(`${field}.stuckAfterMs`, o.stuckAfterMs, { allowZero: false });
  }
  if (o.onStuck !== undefined) {
    if (o.onStuck !== "report" && o.onStuck !== "abort") {
      throw new ValidationError(`${field}.onStuck`, 'must be "report" or "abort"');
    }
    out.onStuck = o.onStuck;
  }
  if (typeof o.backoff === "function") {
    out.backoffFn = o.backoff;
  } else if (o.backoff !== undefined) {
    out.backoff = checkBackoff(`${field}.backoff`, o.backoff);
    out.backoffFn = null;
  }
  return out;
}

export const BASE_JOB_DEFAULTS: ResolvedJobDefaults = {
  timeoutMs: null,
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  backoffFn: null,
  priority: 0,
  abortGraceMs: 1000,
  stuckAfterMs: null,
  onStuck: "report",
};

export function checkConcurrency(field: string, value: unknown): number {
  if (value === Infinity) return Infinity;
  return checkInteger(field, value, 1, 1_000_000);
}

export function resolveGroups(value: unknown): Map<string, GroupLimits> {
  const out = new Map<string, GroupLimits>();
  if (value === undefined) return out;
  if (typeof value !== "object" || value === null) throw new ValidationError("options.groups", "must be an object");
  for (const [name, limits] of Object.entries(value as Record<string, unknown>)) {
    const field = `options.groups.${name}`;
    checkString(field, name, 128);
    if (typeof limits !== "object" || limits === null)
      throw new ValidationError(field, "must be { concurrency?, rateLimit? }");
    const l = limits as Record<string, unknown>;
    const resolved: GroupLimits = {};
    if (l.concurrency !== undefined)
      resolved.concurrency = checkInteger(`${field}.concurrency`, l.concurrency, 1, 1_000_000);
    if (l.rateLimit !== undefined) resolved.rateLimit = checkRateLimit(`${field}.rateLimit`, l.rateLimit);
    out.set(name, resolved);
  }
  return out;
}

export function checkLeaseMs(value: unknown): number {
  const ms = checkDuration("options.leaseMs", value, { allowZero: false });
  if (ms < 30) throw new ValidationError("options.leaseMs", "must be at least 30 ms");
  return Math.min(ms, MAX_TIMER_MS);
}

export function resolvePrefetch(value: unknown, durable: boolean): number | "auto" {
  if (value === undefined) return durable ? "auto" : 0;
  if (value === "auto") return value;
  return checkInteger("options.prefetch", value, 0, 100_000);
}
