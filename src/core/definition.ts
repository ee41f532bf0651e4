import type { BackoffFunction } from "./backoff.js";
import type { BackoffSpec } from "./job.js";
import type { RateLimit } from "./rate-limiter.js";

/** What a handler receives besides the job. */
export interface HandlerContext {
  /** Aborts on cancel, timeout or shutdown; `signal.reason.code` says which. */
  readonly signal: AbortSignal;
  /** Reports progress (any JSON value, e.g. 0..1 or { trial, best }). */
  progress(value: unknown): void;
  /** Persists a JSON state; the next attempt after a failure or crash receives it as job.checkpoint. */
  checkpoint(state: unknown): void;
  /** This worker's id. */
  readonly workerId: string;
}

/** The job as a handler sees it. */
export interface RunningJob<Input = unknown> {
  readonly id: string;
  readonly name: string;
  readonly input: Input;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: number;
  readonly group: string | null;
  readonly key: string | null;
  /** The last checkpoint saved by an earlier attempt, or null. */
  readonly checkpoint: unknown;
  readonly createdAt: number;
}

/** The handler's view of a job: only these fields, whatever object they come from. */
export function toRunningJob(job: RunningJob): RunningJob {
  return new RunningJobCopy(job);
}

/**
 * A class rather than an object literal: V8 may decide to allocate a hot
 * literal straight in the old generation (pretenuring), where these
 * short-lived copies would pile up until a full collection.
 */
class RunningJobCopy implements RunningJob {
  readonly id: string;
  readonly name: string;
  readonly input: unknown;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: number;
  readonly group: string | null;
  readonly key: string | null;
  readonly checkpoint: unknown;
  readonly createdAt: number;

  constructor(job: RunningJob) {
    this.id = job.id;
    this.name = job.name;
    this.input = job.input;
    this.attempt = job.attempt;
    this.maxAttempts = job.maxAttempts;
    this.priority = job.priority;
    this.group = job.group;
    this.key = job.key;
    this.checkpoint = job.checkpoint;
    this.createdAt = job.createdAt;
  }
}

export type Handler<Input = unknown, Result = unknown> = (
  job: RunningJob<Input>,
  ctx: HandlerContext,
) => Promise<Result> | Result;

/** Per-name options for define(); each falls back to the queue's default. */
export interface DefineOptions {
  /** Jobs of this name running at once in this process. */
  concurrency?: number;
  /** Starts of this name per interval in this process. */
  rateLimit?: RateLimit;
  /** Per-attempt timeout in ms; null for none. */
  timeoutMs?: number | null;
  maxAttempts?: number;
  backoff?: BackoffSpec | BackoffFunction;
  /** Default priority of submissions of this name. */
  priority?: number;
  /** After an abort, how long the handler may take to stop before the job is settled anyway. */
  abortGraceMs?: number;
  /** A running job without progress for this long is stuck (health() names it). Default: the queue's stuckAfterMs. */
  stuckAfterMs?: number;
  /** What to do with a stuck job: only report it in health() (default), or abort the attempt (retried per policy). */
  onStuck?: "report" | "abort";
}

/** Options of submit(). */
export interface SubmitOptions {
  /** Higher runs first; FIFO within a priority. Integer, default 0. */
  priority?: number;
  /** Run no sooner than this many ms from now. */
  delayMs?: number;
  /** Run no sooner than this time. */
  runAt?: Date | number;
  /** Per-attempt timeout in ms (null: none). */
  timeoutMs?: number | null;
  maxAttempts?: number;
  backoff?: BackoffSpec;
  /** Idempotency key: while a job with this key is retained, submitting it again returns that job. */
  key?: string;
  /** Concurrency and rate limits configured for this group apply to the job. */
  group?: string;
  /** When the queue is full: reject with QueueFullError (default) or wait for room. */
  ifFull?: "reject" | "wait";
  /** With ifFull "wait": give up after this many ms with QueueFullError. */
  waitTimeoutMs?: number;
  /** With ifFull "wait": stop waiting when this signal aborts. */
  signal?: AbortSignal;
}
