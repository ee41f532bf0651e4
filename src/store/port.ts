/**
 * The Store port: everything optiq needs from storage, designed from the job
 * lifecycle (enqueue → claim with lease → heartbeat → settle, plus cancel,
 * rescue, read, list, stats and wake-ups). The core and the worker talk only
 * to this interface; memory, SQLite and PostgreSQL implement it, and one
 * conformance suite (test/conformance) holds all of them to the same
 * semantics. Internal until someone outside writes a store.
 *
 * Rules every store keeps:
 * - State changes follow core/states.ts and are guarded: a settle applies only
 *   while the job is `running`, leased by that worker, at that attempt. A job
 *   reaches exactly one terminal state, once.
 * - Claims return runnable jobs (state `queued`, runAt ≤ now) by priority
 *   (higher first), then earlier runAt, then submission order, honouring
 *   group limits.
 * - Stored input/result/progress/checkpoint round-trip through JSON on every
 *   store, so behaviour never depends on which store is used.
 */
import type { AttemptError, BackoffSpec, Job, SerializedError } from "../core/job.js";
import type { RateLimit } from "../core/rate-limiter.js";
import type { JobState } from "../core/states.js";

export interface StoreCapabilities {
  /** Jobs survive a process restart. */
  readonly durable: boolean;
  /** Several processes may use the same store at once (workers and producers). */
  readonly shared: boolean;
  /** enqueue() can run inside the caller's own database transaction. */
  readonly transactionalEnqueue: boolean;
  /** Suggested interval (ms) for flushing progress and heartbeats; 0 means write at once. */
  readonly writeIntervalMs: number;
  /**
   * Operations answer without I/O (the store lives in this process's memory):
   * batching round trips gains nothing, so the worker claims at once.
   */
  readonly inProcess: boolean;
}

export interface EnqueueJob {
  name: string;
  /** JSON text of the input (validated and size-checked by the core). */
  inputJson: string;
  priority: number;
  runAt: number;
  maxAttempts: number;
  timeoutMs: number | null;
  backoff: BackoffSpec;
  key: string | null;
  group: string | null;
}

export interface EnqueueParams {
  jobs: readonly EnqueueJob[];
  now: number;
  /** Reject the whole batch with QueueFullError if queued jobs would exceed this. */
  maxQueued: number | null;
}

export interface EnqueueResult {
  id: string;
  /** false when a job with the same key already existed; id is then that job's. */
  created: boolean;
}

export interface ClaimParams {
  workerId: string;
  /** Jobs this worker can take now (free slots, global rate limit). */
  limit: number;
  /** Job names this worker runs, each with the number it can take now. */
  names: ReadonlyMap<string, number>;
  leaseMs: number;
  now: number;
}

export interface ClaimedJob {
  id: string;
  name: string;
  input: unknown;
  /** This attempt's number, 1-based. */
  attempt: number;
  maxAttempts: number;
  priority: number;
  timeoutMs: number | null;
  backoff: BackoffSpec;
  key: string | null;
  group: string | null;
  createdAt: number;
  runAt: number;
  checkpoint: unknown;
  leaseExpiresAt: number;
}

export interface ClaimResult {
  jobs: ClaimedJob[];
  /**
   * When to try again if fewer jobs than asked were returned: the earliest
   * delayed job's runAt or the next group rate-limit opening; null if only a
   * new submission or a freed group slot can make work runnable.
   */
  nextRunAt: number | null;
}

export interface HeartbeatEntry {
  id: string;
  attempt: number;
  /** Present when progress changed since the last write. */
  progress?: unknown;
  /** Present when the handler checkpointed since the last write. */
  checkpoint?: unknown;
}

export interface HeartbeatParams {
  workerId: string;
  entries: readonly HeartbeatEntry[];
  leaseMs: number;
  now: number;
}

export interface HeartbeatResult {
  /** Jobs this worker no longer holds (rescued, settled elsewhere): stop them. */
  lost: string[];
  /** Jobs whose cancellation was requested: stop them (a backstop for missed notifications). */
  cancelRequested: string[];
}

export type Outcome =
  | { kind: "completed"; resultJson: string }
  | { kind: "retry"; error: SerializedError; runAt: number }
  | { kind: "failed"; error: SerializedError }
  /** `note`, if any, is appended to the job's error message (e.g. "the handler may still be running"). */
  | { kind: "cancelled"; reason: string; note?: string };

export interface Settlement {
  id: string;
  attempt: number;
  outcome: Outcome;
}

export interface SettleParams {
  workerId: string;
  settlements: readonly Settlement[];
  now: number;
}

export interface SettleResult {
  id: string;
  /** false when the guard refused it: the worker had lost the lease. */
  applied: boolean;
  /** State after the call (a requested cancel turns any outcome into `cancelled`). */
  state: JobState | null;
}

export interface ReleaseParams {
  workerId: string;
  /** Claimed jobs this worker will not start (it is stopping). */
  jobs: readonly { id: string; attempt: number }[];
  now: number;
}

export interface CancelParams {
  id: string;
  reason: string;
  now: number;
}

export type CancelOutcome =
  /** It was queued: now `cancelled`, it will never run. */
  | "cancelled"
  /** It is running: the owning worker is told to stop it, then it ends `cancelled` (repeatable). */
  | "requested"
  /** Already terminal: nothing changed. */
  | "unchanged"
  | "not-found";

export interface RescueParams {
  now: number;
  /** At most this many jobs per call, so a huge backlog is rescued in batches. */
  limit: number;
}

export interface RescueResult {
  requeued: string[];
  failed: string[];
  cancelled: string[];
}

export interface ListParams {
  state?: JobState;
  name?: string;
  group?: string;
  /** Newest first; pass the last id seen to page. */
  beforeId?: string;
  limit: number;
}

export interface GroupLimits {
  /** Jobs of the group running at once, across every worker on the store. */
  concurrency?: number;
  rateLimit?: RateLimit;
}

export interface Retention {
  /** Finished jobs older than this are removed. */
  maxAgeMs: number;
  /** At most this many finished jobs are kept (oldest removed first). */
  maxCount: number;
}

export interface StoreConfig {
  groups: ReadonlyMap<string, GroupLimits>;
  retention: Retention;
}

export type StoreCounts = Record<JobState, number>;

export interface StoreListener {
  /**
   * New work may exist (enqueue — delayed jobs included, so a worker learns
   * their runAt from its next claim —, retry, rescue, freed group slot).
   */
  onAvailable?(): void;
  /** These jobs reached a terminal state. */
  onFinished?(ids: readonly string[]): void;
  /** Cancellation was requested for these running jobs. */
  onCancelRequested?(ids: readonly string[]): void;
  /**
   * Notifications may have been missed (a listener connection was lost and
   * restored, a process stalled past the change feed): re-read whatever is
   * awaited. Rare; never a substitute for the events above.
   */
  onResync?(): void;
}

export type Unsubscribe = () => Promise<void>;

export interface Store {
  readonly capabilities: StoreCapabilities;

  /** Connects and migrates; idempotent, and reopens a closed store. */
  init(): Promise<void>;
  /** Releases connections and timers; idempotent. */
  close(): Promise<void>;
  /** Group limits and retention, set by the queue at start. */
  configure(config: StoreConfig): Promise<void>;

  enqueue(params: EnqueueParams): Promise<EnqueueResult[]>;
  claim(params: ClaimParams): Promise<ClaimResult>;
  heartbeat(params: HeartbeatParams): Promise<HeartbeatResult>;
  settle(params: SettleParams): Promise<SettleResult[]>;
  /**
   * Returns claimed-but-unstarted jobs to the queue without using up an
   * attempt (guarded like settle; a job whose cancel was requested ends
   * `cancelled` instead). Returns the ids put back in the queue.
   */
  release(params: ReleaseParams): Promise<string[]>;
  cancel(params: CancelParams): Promise<CancelOutcome>;
  /** Returns expired leases to the queue, or fails/cancels them. */
  rescueExpired(params: RescueParams): Promise<RescueResult>;
  /** Removes finished jobs past retention; returns how many. */
  prune(now: number): Promise<number>;

  get(id: string): Promise<Job | null>;
  list(params: ListParams): Promise<Job[]>;
  /** Jobs per state, without scanning finished jobs. */
  counts(): Promise<StoreCounts>;

  /** Resolves once the listener is live, so a caller can subscribe, then read, without a race. */
  subscribe(listener: StoreListener): Promise<Unsubscribe>;

  /**
   * Enqueues inside the caller's own transaction (`tx` is the store's kind of
   * connection, e.g. a pg client in BEGIN): the jobs exist exactly when the
   * caller commits. Present when capabilities.transactionalEnqueue is true.
   */
  enqueueWith?(tx: unknown, params: EnqueueParams): Promise<EnqueueResult[]>;
}

export type { AttemptError, Job };
