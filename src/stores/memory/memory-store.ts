import type { Job } from "../../core/job.js";
import { QueueFullError } from "../../core/errors.js";
import type { JobState } from "../../core/states.js";
import type {
  CancelOutcome,
  CancelParams,
  ClaimParams,
  ClaimResult,
  ClaimedJob,
  EnqueueJob,
  EnqueueParams,
  EnqueueResult,
  HeartbeatParams,
  HeartbeatResult,
  ListParams,
  Outcome,
  ReleaseParams,
  RescueParams,
  RescueResult,
  SettleParams,
  SettleResult,
  Store,
  StoreCapabilities,
  StoreConfig,
  StoreCounts,
  StoreListener,
  Unsubscribe,
} from "../../store/port.js";
import { Groups } from "./groups.js";
import { LaneClaim } from "./lane-claim.js";
import { LeasedList } from "./leased-list.js";
import { newJobCount } from "./queue-limit.js";
import { MemoryRecord, seqOf, type JobSpec } from "./record.js";
import { leaseExpiredError, markCancelledFields, noteOf, recordError } from "./record-errors.js";
import { RecordTable } from "./record-table.js";
import { Enqueued, LeasedJob, Settled } from "./results.js";
import { FinishedJobs } from "./retention.js";
import { WaitingJobs } from "./waiting-jobs.js";

/**
 * The reference store: everything in this process, every operation O(1) or
 * O(log n) per job except claim, which is O(lanes) per job taken (a lane is
 * a distinct (name, group) pair with queued work). Not durable, not shared.
 */
export class MemoryStore implements Store {
  readonly capabilities: StoreCapabilities = {
    durable: false,
    shared: false,
    transactionalEnqueue: false,
    writeIntervalMs: 0,
    inProcess: true,
  };

  private seq = 0;
  private lastSpec: JobSpec | null = null;
  /** Every retained job, by seq. */
  private readonly jobs = new RecordTable();
  private readonly keys = new Map<string, MemoryRecord>();
  private readonly waiting = new WaitingJobs();
  private readonly leased = new LeasedList();
  private readonly groups = new Groups();
  private readonly listeners = new Set<StoreListener>();
  private readonly stateCounts: StoreCounts = { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
  private readonly finished = new FinishedJobs(this.jobs, this.keys, this.stateCounts);

  init(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }

  configure(config: StoreConfig): Promise<void> {
    this.finished.retention = config.retention;
    this.groups.configure(config.groups);
    return Promise.resolve();
  }

  enqueue(params: EnqueueParams): Promise<EnqueueResult[]> {
    const { jobs, now, maxQueued } = params;
    if (maxQueued !== null && this.stateCounts.queued + newJobCount(jobs, this.keys) > maxQueued) {
      return Promise.reject(new QueueFullError(this.stateCounts.queued, maxQueued));
    }
    const results: EnqueueResult[] = new Array<EnqueueResult>(jobs.length);
    let created = false;
    for (let i = 0; i < jobs.length; i++) {
      const j = jobs[i]!;
      const existing = j.key === null ? undefined : this.keys.get(j.key);
      if (existing) {
        results[i] = new Enqueued(existing.id, false);
        continue;
      }
      const seq = ++this.seq;
      const rec = new MemoryRecord(seq, j.name, j.inputJson, j.priority, j.runAt, this.specOf(j), j.key, j.group, now);
      this.jobs.add(rec);
      if (rec.key !== null) this.keys.set(rec.key, rec);
      this.stateCounts.queued++;
      this.waiting.add(rec, now);
      created = true;
      results[i] = new Enqueued(rec.id, true);
    }
    // delayed jobs too: a worker learns their runAt from the claim this triggers
    if (created) this.emitAvailable();
    return Promise.resolve(results);
  }

  claim(params: ClaimParams): Promise<ClaimResult> {
    const { now, workerId, leaseMs } = params;
    this.waiting.promoteDue(now);
    let nextRunAt = this.waiting.nextDelayedRunAt();
    const pick = new LaneClaim(this.waiting.allLanes(), params.names, this.groups, now);
    const jobs: ClaimedJob[] = [];
    for (let limit = params.limit; limit > 0; limit--) {
      const rec = pick.next();
      if (rec === undefined) break;
      jobs.push(this.lease(rec, workerId, leaseMs, now));
    }
    const reopensAt = pick.reopensAt();
    if (reopensAt !== null) nextRunAt = nextRunAt === null ? reopensAt : Math.min(nextRunAt, reopensAt);
    return Promise.resolve({ jobs, nextRunAt });
  }

  heartbeat(params: HeartbeatParams): Promise<HeartbeatResult> {
    const lost: string[] = [];
    const cancelRequested: string[] = [];
    for (const entry of params.entries) {
      const rec = this.jobs.get(seqOf(entry.id));
      if (!rec || rec.state !== "running" || rec.leaseOwner !== params.workerId || rec.attempt !== entry.attempt) {
        lost.push(entry.id);
        continue;
      }
      rec.leaseExpiresAt = params.now + params.leaseMs;
      if (entry.progress !== undefined) {
        rec.progressJson = JSON.stringify(entry.progress) ?? null;
        rec.lastProgressAt = params.now;
      }
      if (entry.checkpoint !== undefined) rec.checkpointJson = JSON.stringify(entry.checkpoint) ?? null;
      if (rec.cancelRequested) cancelRequested.push(rec.id);
    }
    return Promise.resolve({ lost, cancelRequested });
  }

  settle(params: SettleParams): Promise<SettleResult[]> {
    const results: SettleResult[] = [];
    const finished: string[] = [];
    let available = false;
    for (const s of params.settlements) {
      const rec = this.jobs.get(seqOf(s.id));
      if (!rec || rec.state !== "running" || rec.leaseOwner !== params.workerId || rec.attempt !== s.attempt) {
        results.push(new Settled(s.id, false, rec?.state ?? null));
        continue;
      }
      // a requested cancel wins, with the caller's reason; the worker's note (if any) is kept
      const outcome: Outcome = rec.cancelRequested
        ? { kind: "cancelled", reason: rec.cancelReason ?? "cancelled", note: noteOf(s.outcome) }
        : s.outcome;
      this.releaseLease(rec);
      available ||= rec.group !== null;
      switch (outcome.kind) {
        case "completed":
          rec.resultJson = outcome.resultJson;
          this.finish(rec, "completed", params.now);
          break;
        case "failed":
          recordError(rec, outcome.error, params.now);
          this.finish(rec, "failed", params.now);
          break;
        case "cancelled":
          this.markCancelled(rec, outcome.reason, params.now, outcome.note);
          break;
        case "retry":
          recordError(rec, outcome.error, params.now);
          this.requeue(rec, outcome.runAt, params.now);
          available ||= outcome.runAt <= params.now;
          break;
      }
      // s.id names this record (it was found by it): no need to rebuild the id string
      if ((rec.state as JobState) !== "queued") finished.push(s.id);
      results.push(new Settled(s.id, true, rec.state));
    }
    if (finished.length > 0) this.emitFinished(finished);
    if (available) this.emitAvailable();
    return Promise.resolve(results);
  }

  release(params: ReleaseParams): Promise<string[]> {
    const released: string[] = [];
    const cancelled: string[] = [];
    for (const { id, attempt } of params.jobs) {
      const rec = this.jobs.get(seqOf(id));
      if (!rec || rec.state !== "running" || rec.leaseOwner !== params.workerId || rec.attempt !== attempt) continue;
      this.releaseLease(rec);
      if (rec.cancelRequested) {
        this.markCancelled(rec, rec.cancelReason ?? "cancelled", params.now);
        cancelled.push(id);
        continue;
      }
      rec.attempt--;
      rec.startedAt = null;
      this.requeue(rec, rec.runAt, params.now);
      released.push(id);
    }
    if (cancelled.length > 0) this.emitFinished(cancelled);
    if (released.length > 0) this.emitAvailable();
    return Promise.resolve(released);
  }

  cancel(params: CancelParams): Promise<CancelOutcome> {
    const rec = this.jobs.get(seqOf(params.id));
    if (!rec) return Promise.resolve("not-found");
    if (rec.state === "queued") {
      // left in its lane or the delayed heap; claim skips non-queued heads
      this.stateCounts.queued--;
      this.stateCounts.cancelled++;
      rec.state = "cancelled";
      markCancelledFields(rec, params.reason, params.now);
      this.finished.add(rec, params.now);
      this.emitFinished([rec.id]);
      return Promise.resolve("cancelled");
    }
    if (rec.state === "running") {
      // idempotent: a second cancel keeps the first reason and notifies again
      if (!rec.cancelRequested) {
        rec.cancelRequested = true;
        rec.cancelReason = params.reason;
      }
      for (const l of this.listeners) l.onCancelRequested?.([rec.id]);
      return Promise.resolve("requested");
    }
    return Promise.resolve("unchanged");
  }

  rescueExpired(params: RescueParams): Promise<RescueResult> {
    const result: RescueResult = { requeued: [], failed: [], cancelled: [] };
    for (let rec = this.leased.first, next: MemoryRecord | null; rec !== null; rec = next) {
      next = rec.leaseNext;
      if (result.requeued.length + result.failed.length + result.cancelled.length >= params.limit) break;
      if (rec.leaseExpiresAt === null || rec.leaseExpiresAt > params.now) continue;
      this.releaseLease(rec);
      if (rec.cancelRequested) {
        this.markCancelled(rec, rec.cancelReason ?? "cancelled", params.now);
        result.cancelled.push(rec.id);
        continue;
      }
      recordError(rec, leaseExpiredError(rec.attempt), params.now);
      if (rec.attempt < rec.maxAttempts) {
        this.requeue(rec, params.now, params.now);
        result.requeued.push(rec.id);
      } else {
        this.finish(rec, "failed", params.now);
        result.failed.push(rec.id);
      }
    }
    const finished = [...result.failed, ...result.cancelled];
    if (finished.length > 0) this.emitFinished(finished);
    if (result.requeued.length > 0 || finished.length > 0) this.emitAvailable();
    return Promise.resolve(result);
  }

  prune(now: number): Promise<number> {
    return Promise.resolve(this.finished.trim(now));
  }

  get(id: string): Promise<Job | null> {
    return Promise.resolve(this.jobs.get(seqOf(id))?.toJob() ?? null);
  }

  list(params: ListParams): Promise<Job[]> {
    // O(retained jobs): for dashboards and the CLI, never on the job path
    const before = params.beforeId === undefined ? Infinity : Number(params.beforeId);
    const out: Job[] = [];
    for (const r of this.jobs.newestFirst()) {
      if (out.length >= params.limit) break;
      if (r.seq >= before) continue;
      if (params.state !== undefined && r.state !== params.state) continue;
      if (params.name !== undefined && r.name !== params.name) continue;
      if (params.group !== undefined && r.group !== params.group) continue;
      out.push(r.toJob());
    }
    return Promise.resolve(out);
  }

  counts(): Promise<StoreCounts> {
    return Promise.resolve({ ...this.stateCounts });
  }

  subscribe(listener: StoreListener): Promise<Unsubscribe> {
    this.listeners.add(listener);
    return Promise.resolve(() => {
      this.listeners.delete(listener);
      return Promise.resolve();
    });
  }

  /** The spec of the last job enqueued if `j` has the same one (the usual case): one object for many jobs. */
  private specOf(j: EnqueueJob): JobSpec {
    const last = this.lastSpec;
    if (
      last !== null &&
      last.maxAttempts === j.maxAttempts &&
      last.timeoutMs === j.timeoutMs &&
      last.backoff === j.backoff
    )
      return last;
    return (this.lastSpec = { maxAttempts: j.maxAttempts, timeoutMs: j.timeoutMs, backoff: j.backoff });
  }

  private lease(rec: MemoryRecord, workerId: string, leaseMs: number, now: number): ClaimedJob {
    this.stateCounts.queued--;
    this.stateCounts.running++;
    rec.state = "running";
    rec.attempt++;
    rec.startedAt = now;
    rec.lastProgressAt = null;
    rec.leaseOwner = workerId;
    rec.leaseExpiresAt = now + leaseMs;
    this.leased.append(rec);
    if (rec.group !== null) this.groups.started(rec.group, now);
    return new LeasedJob(rec);
  }

  /** Frees the lease and the group slot; the caller sets the next state. */
  private releaseLease(rec: MemoryRecord): void {
    this.stateCounts.running--;
    rec.leaseOwner = null;
    rec.leaseExpiresAt = null;
    this.leased.remove(rec);
    if (rec.group !== null) this.groups.stopped(rec.group);
  }

  private requeue(rec: MemoryRecord, runAt: number, now: number): void {
    this.stateCounts.queued++;
    rec.state = "queued";
    rec.moveRunAt(runAt);
    this.waiting.add(rec, now);
  }

  private finish(rec: MemoryRecord, state: JobState, now: number): void {
    this.stateCounts[state]++;
    rec.state = state;
    rec.finishedAt = now;
    this.finished.add(rec, now);
  }

  private markCancelled(rec: MemoryRecord, reason: string, now: number, note?: string): void {
    markCancelledFields(rec, reason, now, note);
    this.finish(rec, "cancelled", now);
  }

  private emitAvailable(): void {
    for (const l of this.listeners) l.onAvailable?.();
  }

  private emitFinished(ids: readonly string[]): void {
    for (const l of this.listeners) l.onFinished?.(ids);
  }
}
