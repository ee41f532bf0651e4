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
  /** null while it equals the job's first runAt (most jobs): a time costs a 16-byte box per job. */
  private created: number | null;

  constructor(
    readonly seq: number,
    readonly name: string,
    readonly inputJson: string,
    readonly priority: number,
    private runAtValue: number,
    /** Shared by the jobs submitted with the same attempts, timeout and backoff. */
    readonly spec: JobSpec,
    readonly key: string | null,
    readonly group: string | null,
    createdAt: number,
  ) {
    this.created = createdAt === runAtValue ? null : createdAt;
  }

  /** When the job may run next. */
  get runAt(): number {
    return this.runAtValue;
  }

  /** The job's id: its seq in decimal (not stored, so a waiting job costs no string). */
  get id(): string {
    return String(this.seq);
  }

  get createdAt(): number {
    return this.created ?? this.runAtValue;
  }

  /** Moves the job's runAt (a retry, a release); createdAt stays. */
  moveRunAt(runAt: number): void {
    if (this.created === null && runAt !== this.runAtValue) this.created = this.runAtValue;
    this.runAtValue = runAt;
  }

  get maxAttempts(): number {
    return this.spec.maxAttempts;
  }

  get timeoutMs(): number | null {
    return this.spec.timeoutMs;
  }

  get backoff(): BackoffSpec {
    return this.spec.backoff;
  }

  get resultJson(): string | null {
    return this.life === null ? null : this.life.resultJson;
  }
  set resultJson(value: string | null) {
    if (this.life !== null) this.life.resultJson = value;
    else if (value !== null) this.lifeForWrite().resultJson = value;
  }
  get error(): SerializedError | null {
    return this.life === null ? null : this.life.error;
  }
  set error(value: SerializedError | null) {
    if (this.life !== null) this.life.error = value;
    else if (value !== null) this.lifeForWrite().error = value;
  }
  get errors(): AttemptError[] | null {
    return this.life === null ? null : this.life.errors;
  }
  set errors(value: AttemptError[] | null) {
    if (this.life !== null) this.life.errors = value;
    else if (value !== null) this.lifeForWrite().errors = value;
  }
  get progressJson(): string | null {
    return this.life === null ? null : this.life.progressJson;
  }
  set progressJson(value: string | null) {
    if (this.life !== null) this.life.progressJson = value;
    else if (value !== null) this.lifeForWrite().progressJson = value;
  }
  get checkpointJson(): string | null {
    return this.life === null ? null : this.life.checkpointJson;
  }
  set checkpointJson(value: string | null) {
    if (this.life !== null) this.life.checkpointJson = value;
    else if (value !== null) this.lifeForWrite().checkpointJson = value;
  }
  get startedAt(): number | null {
    return this.life === null ? null : fromTime(this.life.startedAt);
  }
  set startedAt(value: number | null) {
    if (this.life !== null) this.life.startedAt = toTime(value);
    else if (value !== null) this.lifeForWrite().startedAt = value;
  }
  get finishedAt(): number | null {
    return this.life === null ? null : fromTime(this.life.finishedAt);
  }
  set finishedAt(value: number | null) {
    if (this.life !== null) this.life.finishedAt = toTime(value);
    else if (value !== null) this.lifeForWrite().finishedAt = value;
  }
  get lastProgressAt(): number | null {
    return this.life === null ? null : fromTime(this.life.lastProgressAt);
  }
  set lastProgressAt(value: number | null) {
    if (this.life !== null) this.life.lastProgressAt = toTime(value);
    else if (value !== null) this.lifeForWrite().lastProgressAt = value;
  }
  get leaseExpiresAt(): number | null {
    return this.life === null ? null : fromTime(this.life.leaseExpiresAt);
  }
  set leaseExpiresAt(value: number | null) {
    if (this.life !== null) this.life.leaseExpiresAt = toTime(value);
    else if (value !== null) this.lifeForWrite().leaseExpiresAt = value;
  }
  get leaseOwner(): string | null {
    return this.life === null ? null : this.life.leaseOwner;
  }
  set leaseOwner(value: string | null) {
    if (this.life !== null) this.life.leaseOwner = value;
    else if (value !== null) this.lifeForWrite().leaseOwner = value;
  }
  get cancelRequested(): boolean {
    return this.life === null ? false : this.life.cancelRequested;
  }
  set cancelRequested(value: boolean) {
    if (this.life !== null) this.life.cancelRequested = value;
    else if (value !== false) this.lifeForWrite().cancelRequested = value;
  }
  get cancelReason(): string | null {
    return this.life === null ? null : this.life.cancelReason;
  }
  set cancelReason(value: string | null) {
    if (this.life !== null) this.life.cancelReason = value;
    else if (value !== null) this.lifeForWrite().cancelReason = value;
  }
  get leasePrev(): MemoryRecord | null {
    return this.life === null ? null : this.life.leasePrev;
  }
  set leasePrev(value: MemoryRecord | null) {
    if (this.life !== null) this.life.leasePrev = value;
    else if (value !== null) this.lifeForWrite().leasePrev = value;
  }
  get leaseNext(): MemoryRecord | null {
    return this.life === null ? null : this.life.leaseNext;
  }
  set leaseNext(value: MemoryRecord | null) {
    if (this.life !== null) this.life.leaseNext = value;
    else if (value !== null) this.lifeForWrite().leaseNext = value;
  }
  private lifeForWrite(): RecordLife {
    return (this.life = lifePool.pop() ?? new RecordLife());
  }

  /**
   * Called when the store forgets this record (retention): its life object
   * serves the next job that starts, so a steady stream of jobs allocates
   * none (they would outlive the young generation in retention, and every
   * one promoted to the old generation grows the heap until a full GC).
   */
  recycle(): void {
    const life = this.life;
    if (life === null) return;
    this.life = null;
    if (lifePool.length < LIFE_POOL_MAX) {
      life.reset();
      lifePool.push(life);
    }
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

/** What a job is run with beyond its input: the same object for every job submitted alike. */
export interface JobSpec {
  readonly maxAttempts: number;
  readonly timeoutMs: number | null;
  readonly backoff: BackoffSpec;
}

/** Stands for "none" in a time field: a number, so the field stays an unboxed double V8 can overwrite in place. */
const NO_TIME = Number.NaN;

function toTime(value: number | null): number {
  return value === null ? NO_TIME : value;
}

function fromTime(value: number): number | null {
  return Number.isNaN(value) ? null : value;
}

/** Life objects of forgotten records, reused by the next jobs to start. */
const lifePool: RecordLife[] = [];
const LIFE_POOL_MAX = 4096;

/** The part of a record that only running, finished or cancelled jobs need. */
class RecordLife {
  resultJson: string | null = null;
  error: SerializedError | null = null;
  errors: AttemptError[] | null = null;
  progressJson: string | null = null;
  checkpointJson: string | null = null;
  startedAt = NO_TIME;
  finishedAt = NO_TIME;
  lastProgressAt = NO_TIME;
  leaseExpiresAt = NO_TIME;
  leaseOwner: string | null = null;
  cancelRequested = false;
  cancelReason: string | null = null;
  /** Neighbours in the store's list of leased (running) jobs. */
  leasePrev: MemoryRecord | null = null;
  leaseNext: MemoryRecord | null = null;

  reset(): void {
    this.resultJson = null;
    this.error = null;
    this.errors = null;
    this.progressJson = null;
    this.checkpointJson = null;
    this.startedAt = NO_TIME;
    this.finishedAt = NO_TIME;
    this.lastProgressAt = NO_TIME;
    this.leaseExpiresAt = NO_TIME;
    this.leaseOwner = null;
    this.cancelRequested = false;
    this.cancelReason = null;
    this.leasePrev = null;
    this.leaseNext = null;
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
