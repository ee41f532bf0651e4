import type { EnqueueJob } from "../../src/store/port.js";

/**
 * Builds an EnqueueJob with test defaults: name "t", input null, priority 0,
 * runnable at `now`, 3 attempts, no timeout, a fixed 1 s backoff without
 * jitter, no key and no group. Any field can be overridden.
 */
export function makeJob(now: number, overrides: Partial<EnqueueJob> = {}): EnqueueJob {
  return {
    name: "t",
    inputJson: "null",
    priority: 0,
    runAt: now,
    maxAttempts: 3,
    timeoutMs: null,
    backoff: { type: "fixed", delayMs: 1000, jitter: false },
    key: null,
    group: null,
    ...overrides,
  };
}

/** `count` jobs built by makeJob; `overrides` may depend on the index. */
export function makeJobs(
  count: number,
  now: number,
  overrides: Partial<EnqueueJob> | ((index: number) => Partial<EnqueueJob>) = {},
): EnqueueJob[] {
  return Array.from({ length: count }, (_, i) =>
    makeJob(now, typeof overrides === "function" ? overrides(i) : overrides),
  );
}
