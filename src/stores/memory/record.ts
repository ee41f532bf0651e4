import type { AttemptError, BackoffSpec, Job, SerializedError } from "../../core/job.js";
import type { JobState } from "../../core/states.js";

/**
 * The memory store's row. Payloads are kept as JSON text, exactly as the
 * durable stores keep them, so a job behaves the same on every store (a Date
 * input comes back as a string everywhere). Fields are all initialised in the
 * constructor so V8 keeps one compact shape for a million of them.
 */
export class MemoryRecord {
  state: JobState = "queued";
  attempt = 0;
  resultJson: string | null = null;
  error: SerializedError | null = null;
  errors: AttemptError[] | null = null;
  progressJson: string | null = null;
  checkpointJson: string | null = null;
  startedAt: number | null = null;
  finishedAt: number | null = null;
  lastProgressAt: number | null = null;
  leaseOwner: string | null = null;
  leaseExpiresAt: number | null = null;
  cancelRequested = false;
  cancelReason: string | null = null;

  constructor(
    readonly seq: number,
    readonly id: string,
    readonly name: string,
    readonly inputJson: string,
    readonly priority: number,
    public runAt: number,
    readonly maxAttempts: number,
    readonly timeoutMs: number | null,
    readonly backoff: BackoffSpec,
    readonly key: string | null,
    readonly group: string | null,
    readonly createdAt: number,
  ) {}

  toJob(): Job {
    return {
      id: this.id,
      name: this.name,
      state: this.state,
      priority: this.priority,
      input: JSON.parse(this.inputJson) as unknown,
      result: this.resultJson === null ? undefined : (JSON.parse(this.resultJson) as unknown),
      error: this.error,
      attempt: this.attempt,
      maxAttempts: this.maxAttempts,
      errors: this.errors ? [...this.errors] : [],
      progress: this.progressJson === null ? null : (JSON.parse(this.progressJson) as unknown),
      checkpoint: this.checkpointJson === null ? null : (JSON.parse(this.checkpointJson) as unknown),
      key: this.key,
      group: this.group,
      timeoutMs: this.timeoutMs,
      backoff: this.backoff,
      createdAt: this.createdAt,
      runAt: this.runAt,
      startedAt: this.startedAt,
      finishedAt: this.finishedAt,
      lastProgressAt: this.lastProgressAt,
      leaseOwner: this.leaseOwner,
      leaseExpiresAt: this.leaseExpiresAt,
      cancelRequested: this.cancelRequested,
      cancelReason: this.cancelReason,
    };
  }
}

/** Runnable order: higher priority first, then earlier runAt, then submission order. */
export function runsBefore(a: MemoryRecord, b: MemoryRecord): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.runAt !== b.runAt) return a.runAt < b.runAt;
  return a.seq < b.seq;
}

/** Delayed order: earlier runAt first. */
export function dueBefore(a: MemoryRecord, b: MemoryRecord): boolean {
  return a.runAt !== b.runAt ? a.runAt < b.runAt : a.seq < b.seq;
}
