/**
 * The benchmark cases. Every system runs the same handler (an async function)
 * at the same concurrency; the producer enqueues all jobs as fast as the
 * system's API allows, then waits for completion event-driven.
 */
export interface CaseSpec {
  readonly name: string;
  readonly jobs: number;
  readonly concurrency: number;
  /** Per-job awaited timer in ms; 0 means a no-op handler. */
  readonly sleepMs: number;
  /** The physical lower bound on the wall time, if any: ceil(jobs / concurrency) × sleepMs. */
  readonly limitMs: number | null;
  /**
   * Untimed runs before the timed one (same process, a fresh queue each).
   * For the latency-bound case: it measures scheduling, and how far the JIT
   * has got with each library's hot path after a thousand jobs would add
   * noise unrelated to it. The first (cold) run's time is reported too.
   */
  readonly warmupRuns: number;
}

/** Concurrency of every system in the no-op cases. */
export const NOOP_CONCURRENCY = 1000;
/** Jobs handed to the queue per submit call (optiq: one submitMany call; others: a push loop). */
export const CHUNK = 10_000;

export const CASES: readonly CaseSpec[] = [
  { name: "noop-20k", jobs: 20_000, concurrency: NOOP_CONCURRENCY, sleepMs: 0, limitMs: null, warmupRuns: 0 },
  { name: "noop-1m", jobs: 1_000_000, concurrency: NOOP_CONCURRENCY, sleepMs: 0, limitMs: null, warmupRuns: 0 },
  { name: "timer-10ms", jobs: 1000, concurrency: 100, sleepMs: 10, limitMs: 100, warmupRuns: 5 },
];

export const SYSTEMS = ["optiq", "p-queue", "fastq"] as const;
export type SystemName = (typeof SYSTEMS)[number];

export function findCase(name: string): CaseSpec {
  const c = CASES.find((x) => x.name === name);
  if (!c) throw new Error(`unknown case ${name}; known: ${CASES.map((x) => x.name).join(", ")}`);
  return c;
}
