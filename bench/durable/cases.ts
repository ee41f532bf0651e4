/**
 * The durable benchmark: cases, systems and the shape of one measurement.
 * Every system is durable as configured by default (optiq SQLite with
 * synchronous=FULL, PostgreSQL with synchronous_commit as the server has it —
 * `on` here —, Redis as the server has it).
 */

export type CaseKind = "throughput" | "pickup";

export interface CaseSpec {
  readonly name: string;
  readonly kind: CaseKind;
  readonly jobs: number;
  readonly concurrency: number;
  /** Per-job awaited timer in ms; 0 means a no-op handler. */
  readonly sleepMs: number;
  /** The physical lower bound on the wall time, if any: ceil(jobs / concurrency) × sleepMs. */
  readonly limitMs: number | null;
  /** Throughput cases: jobs handed to the bulk API per call (all enqueued before the worker starts). */
  readonly enqueueBatch: number;
  /** Pickup case: submissions per second, one submit call each. */
  readonly ratePerSecond: number;
  /** Pickup case: jobs submitted (same pattern) and discarded before measuring. */
  readonly warmup: number;
}

const base = { enqueueBatch: 1000, ratePerSecond: 0, warmup: 0, limitMs: null, sleepMs: 0 } as const;

export const CASES: readonly CaseSpec[] = [
  { ...base, name: "noop-20k", kind: "throughput", jobs: 20_000, concurrency: 50 },
  { ...base, name: "timer-10ms", kind: "throughput", jobs: 1000, concurrency: 100, sleepMs: 10, limitMs: 100 },
  { ...base, name: "pickup", kind: "pickup", jobs: 1000, concurrency: 50, ratePerSecond: 200, warmup: 20 },
];

/**
 * The systems. `pg-floor` is raw `pg` on a bare table: in `pickup` the
 * INSERT+NOTIFY → LISTEN → claim round trip, in `noop-20k` the durable
 * batched claim+complete ceiling (batches of FLOOR_BATCH, no handler).
 */
export const SYSTEMS = ["optiq-sqlite", "optiq-postgres", "graphile-worker", "pg-boss", "bullmq", "pg-floor"] as const;
export type SystemName = (typeof SYSTEMS)[number];

/** Jobs per claim and per complete statement in the floor's batched ceiling. */
export const FLOOR_BATCH = 500;

/** Which systems run which case (the floor has no timer case). */
export function systemsFor(c: CaseSpec): SystemName[] {
  return SYSTEMS.filter((s) => s !== "pg-floor" || c.name !== "timer-10ms");
}

/**
 * pg-boss 10's work() loop waits its polling interval (≥ 0.5 s) after every
 * fetch, so it runs at most batchSize jobs per 0.5 s whatever the backlog:
 * 100 jobs/s at concurrency 50. 20k jobs would take 200 s per run, so its
 * noop case runs this many jobs (same rate, a bounded run time).
 */
export const PGBOSS_NOOP_JOBS = 1000;

/** The case as a system runs it (only the job count may differ, see PGBOSS_NOOP_JOBS). */
export function caseFor(c: CaseSpec, system: SystemName): CaseSpec {
  if (system === "pg-boss" && c.name === "noop-20k") return { ...c, jobs: PGBOSS_NOOP_JOBS };
  return c;
}

export function findCase(name: string): CaseSpec {
  const c = CASES.find((x) => x.name === name);
  if (!c) throw new Error(`unknown case ${name}; known: ${CASES.map((x) => x.name).join(", ")}`);
  return c;
}

/** What a child prints (one JSON line). */
export interface Measurement {
  case: string;
  system: SystemName;
  /** Jobs measured (pickup: without the warmup). */
  jobs: number;
  /** Throughput cases: worker start → every job durably completed. */
  ms?: number;
  jobs_per_s?: number;
  /** Throughput cases: time the bulk enqueue took (before the timed part). */
  enqueue_ms?: number;
  /** Pickup: handler start − submit call, over the measured jobs. */
  p50_ms?: number;
  p99_ms?: number;
  max_ms?: number;
  /** Peak RSS of the child process (sampled), MB. */
  rss_mb: number;
  /** Free-form facts about the run (round trips, settings). */
  notes?: Record<string, number | string>;
}

export const PG_URL = process.env.OPTIQ_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const REDIS_HOST = process.env.OPTIQ_BENCH_REDIS_HOST ?? "127.0.0.1";
export const REDIS_PORT = Number(process.env.OPTIQ_BENCH_REDIS_PORT ?? 6379);

/** Schemas and queue names of one run share this prefix, so a crashed run can be cleaned up by it. */
export const NAME_PREFIX = "obd_";
