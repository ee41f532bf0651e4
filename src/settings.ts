import { SlidingWindowLimiter } from "./core/rate-limiter.js";
import { checkDuration, checkInteger, checkRateLimit } from "./core/validate.js";
import type { HealthThresholds } from "./health.js";
import {
  BASE_JOB_DEFAULTS,
  checkConcurrency,
  checkLeaseMs,
  resolveGroups,
  resolveJobDefaults,
  resolvePrefetch,
  type OptiqOptions,
  type ResolvedJobDefaults,
} from "./options.js";
import type { GroupLimits, Retention, StoreCapabilities } from "./store/port.js";

const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
const DEFAULT_RETENTION: Retention = { maxAgeMs: 24 * 3600_000, maxCount: 10_000 };

/** The queue's options, validated and with their defaults: what its parts are built from. */
export interface Settings {
  concurrency: number;
  maxQueued: number | null;
  maxPayloadBytes: number;
  retention: Retention;
  jobDefaults: ResolvedJobDefaults;
  groups: Map<string, GroupLimits>;
  leaseMs: number;
  /** Backstop polling, only for stores shared with other processes. */
  pollIntervalMs: number | null;
  thresholds: HealthThresholds;
  rateLimiter: SlidingWindowLimiter | null;
  prefetch: number | "auto";
}

/** Checks the options one by one, in a fixed order: the first invalid field is the one reported. */
export function resolveSettings(options: OptiqOptions, capabilities: StoreCapabilities): Settings {
  const concurrency = checkConcurrency("options.concurrency", options.concurrency ?? 10);
  const maxQueued =
    options.maxQueued === undefined
      ? null
      : checkInteger("options.maxQueued", options.maxQueued, 1, Number.MAX_SAFE_INTEGER);
  const maxPayloadBytes = checkInteger(
    "options.maxPayloadBytes",
    options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD,
    16,
    256 * 1024 * 1024,
  );
  const retention: Retention = {
    maxAgeMs: checkDuration("options.retention.maxAgeMs", options.retention?.maxAgeMs ?? DEFAULT_RETENTION.maxAgeMs),
    maxCount: checkInteger(
      "options.retention.maxCount",
      options.retention?.maxCount ?? DEFAULT_RETENTION.maxCount,
      0,
      Number.MAX_SAFE_INTEGER,
    ),
  };
  const jobDefaults = resolveJobDefaults("options.defaults", options.defaults, BASE_JOB_DEFAULTS);
  const groups = resolveGroups(options.groups);
  const leaseMs = checkLeaseMs(options.leaseMs ?? 30_000);
  const pollIntervalMs = capabilities.shared
    ? checkDuration("options.pollIntervalMs", options.pollIntervalMs ?? 1000, { allowZero: false })
    : null;
  const thresholds: HealthThresholds = {
    stuckAfterMs: checkDuration("options.stuckAfterMs", options.stuckAfterMs ?? 10 * 60_000),
    stallAfterMs: checkDuration("options.stallAfterMs", options.stallAfterMs ?? 30_000),
    eventLoopLagMs: checkDuration("options.eventLoopLagMs", options.eventLoopLagMs ?? 200),
  };
  const rateLimiter = options.rateLimit
    ? new SlidingWindowLimiter(checkRateLimit("options.rateLimit", options.rateLimit))
    : null;
  const prefetch = resolvePrefetch(options.prefetch, capabilities.durable);
  return {
    concurrency,
    maxQueued,
    maxPayloadBytes,
    retention,
    jobDefaults,
    groups,
    leaseMs,
    pollIntervalMs,
    thresholds,
    rateLimiter,
    prefetch,
  };
}
