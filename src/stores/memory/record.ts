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
  /** Fields a job gets once it runs, is cancelled or fails; null while it only waits. */
  private life: RecordLife | null = null;

  constructor(
    readonly seq: number,
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

  /** The job's id: its seq in decimal (not stored, so a waiting job costs no string). */
  get id(): string {
    return String(this.seq);
  }

  get resultJson(): string | null {
    return this.life === null ? null : this.life.resultJson;
  }
  set resultJson(value: string | null) {
    if (this.life !== null) this.life.resultJson = value;
    else if (value !== null) (this.life = new RecordLife()).resultJson = value;
  }
  get error(): SerializedError | null {
    return this.life === null ? null : this.life.error;
  }
  set error(value: SerializedError | null) {
    if (this.life !== null) this.life.error = value;
    else if (value !== null) (this.life = new RecordLife()).error = value;
  }
  get errors(): AttemptError[] | null {
    return this.life === null ? null : this.life.errors;
  }
  set errors(value: AttemptError[] | null) {
    if (this.life !== null) this.life.errors = value;
    else if (value !== null) (this.life = new RecordLife()).errors = value;
  }
  get progressJson(): string | null {
    return this.life === null ? null : this.life.progressJson;
  }
  set progressJson(value: string | null) {
    if (this.life !== null) this.life.progressJson = value;
    else if (value !== null) (this.life = new RecordLife()).progressJson = value;
  }
  get checkpointJson(): string | null {
    return this.life === null ? null : this.life.checkpointJson;
  }
  set checkpointJson(value: string | null) {
    if (this.life !== null) this.life.checkpointJson = value;
    else if (value !== null) (this.life = new RecordLife()).checkpointJson = value;
  }
  get startedAt(): number | null {
    return this.life === null ? null : this.life.startedAt;
  }
  set startedAt(value: number | null) {
    if (this.life !== null) this.life.startedAt = value;
    else if (value !== null) (this.life = new RecordLife()).startedAt = value;
  }
  get finishedAt(): number | null {
    return this.life === null ? null : this.life.finishedAt;
  }
  set finishedAt(value: number | null) {
    if (this.life !== null) this.life.finishedAt = value;
    else if (value !== null) (this.life = new RecordLife()).finishedAt = value;
  }
  get lastProgressAt(): number | null {
    return this.life === null ? null : this.life.lastProgressAt;
  }
  set lastProgressAt(value: number | null) {
    if (this.life !== null) this.life.lastProgressAt = value;
    else if (value !== null) (this.life = new RecordLife()).lastProgressAt = value;
  }
  get leaseOwner(): string | null {
    return this.life === null ? null : this.life.leaseOwner;
  }
  set leaseOwner(value: string | null) {
    if (this.life !== null) this.life.leaseOwner = value;
    else if (value !== null) (this.life = new RecordLife()).leaseOwner = value;
  }
  get leaseExpiresAt(): number | null {
    return this.life === null ? null : this.life.leaseExpiresAt;
  }
  set leaseExpiresAt(value: number | null) {
    if (this.life !== null) this.life.leaseExpiresAt = value;
    else if (value !== null) (this.life = new RecordLife()).leaseExpiresAt = value;
  }
  get cancelRequested(): boolean {
    return this.life === null ? false : this.life.cancelRequested;
  }
  set cancelRequested(value: boolean) {
    if (this.life !== null) this.life.cancelRequested = value;
    else if (value !== false) (this.life = new RecordLife()).cancelRequested = value;
  }
  get cancelReason(): string | null {
    return this.life === null ? null : this.life.cancelReason;
  }
  set cancelReason(value: string | null) {
    if (this.life !== null) this.life.cancelReason = value;
    else if (value !== null) (this.life = new RecordLife()).cancelReason = value;
  }
  get leasePrev(): MemoryRecord | null {
    return this.life === null ? null : this.life.leasePrev;
  }
  set leasePrev(value: MemoryRecord | null) {
    if (this.life !== null) this.life.leasePrev = value;
    else if (value !== null) (this.life = new RecordLife()).leasePrev = value;
  }
  get leaseNext(): MemoryRecord | null {
    return this.life === null ? null : this.life.leaseNext;
  }
  set leaseNext(value: MemoryRecord | null) {
    if (this.life !== null) this.life.leaseNext = value;
    else if (value !== null) (this.life = new RecordLife()).leaseNext = value;
  }

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

/** The part of a record that only running, finished or cancelled jobs need. */
class RecordLife {
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
  /** Neighbours in the store's list of leased (running) jobs. */
  leasePrev: MemoryRecord | null = null;
  leaseNext: MemoryRecord | null = null;
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

/** The seq an id names, or 0 if `id` is not an id this store could have made (String(seq), seq ≥ 1). */
export function seqOf(id: string): number {
  const n = id.length;
  if (n === 0 || n > 15) return 0;
  let seq = 0;
  for (let i = 0; i < n; i++) {
    const digit = id.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9 || (digit === 0 && i === 0)) return 0;
    seq = seq * 10 + digit;
  }
  return seq;
}
