import { Fifo } from "../../core/fifo.js";
import { Heap } from "../../core/heap.js";
import type { AttemptError, BackoffSpec, Job, SerializedError } from "../../core/job.js";
import { QueueFullError } from "../../core/errors.js";
import { SlidingWindowLimiter } from "../../core/rate-limiter.js";
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
  Retention,
  SettleParams,
  SettleResult,
  Store,
  StoreCapabilities,
  StoreConfig,
  StoreCounts,
  StoreListener,
  Unsubscribe,
} from "../../store/port.js";
import { MemoryRecord, dueBefore, runsBefore, seqOf, type JobSpec } from "./record.js";
import { RecordTable } from "./record-table.js";
import { RunQueue } from "./run-queue.js";

/** Jobs of one (name, group) pair waiting to run, best first. */
interface Lane {
  readonly name: string;
  readonly group: string | null;
  readonly queue: RunQueue;
}

interface GroupState {
  running: number;
  concurrency: number;
  limiter: SlidingWindowLimiter | null;
}

const DEFAULT_RETENTION: Retention = { maxAgeMs: 24 * 3600_000, maxCount: 10_000 };

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
  private readonly lanes = new Map<string, Lane>();
  private readonly delayed = new Heap<MemoryRecord>(dueBefore);
  /** Leased (running) jobs in lease order, linked through the records: nothing allocated per lease. */
  private leasedHead: MemoryRecord | null = null;
  private leasedTail: MemoryRecord | null = null;
  private readonly finished = new Fifo<MemoryRecord>();
  private readonly groups = new Map<string, GroupState>();
  private readonly listeners = new Set<StoreListener>();
  private retention: Retention = DEFAULT_RETENTION;
  private readonly stateCounts: StoreCounts = { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };

  init(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }

  configure(config: StoreConfig): Promise<void> {
    this.retention = config.retention;
    for (const [name, limits] of config.groups) {
      const running = this.groups.get(name)?.running ?? 0;
      this.groups.set(name, {
        running,
        concurrency: limits.concurrency ?? Infinity,
        limiter: limits.rateLimit ? new SlidingWindowLimiter(limits.rateLimit) : null,
      });
    }
    return Promise.resolve();
  }

  enqueue(params: EnqueueParams): Promise<EnqueueResult[]> {
    const { jobs, now, maxQueued } = params;
    if (maxQueued !== null) {
      // jobs that would be created: keyless ones, plus each key not yet stored (once per batch)
      const newKeys = new Set<string>();
      let fresh = 0;
      for (const j of jobs) {
        if (j.key === null) fresh++;
        else if (!this.keys.has(j.key) && !newKeys.has(j.key)) {
          newKeys.add(j.key);
          fresh++;
        }
      }
      if (this.stateCounts.queued + fresh > maxQueued) {
        return Promise.reject(new QueueFullError(this.stateCounts.queued, maxQueued));
      }
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
      if (rec.runAt <= now) this.laneOf(rec).queue.push(rec);
      else this.delayed.push(rec);
      created = true;
      results[i] = new Enqueued(rec.id, true);
    }
    // delayed jobs too: a worker learns their runAt from the claim this triggers
    if (created) this.emitAvailable();
    return Promise.resolve(results);
  }

  claim(params: ClaimParams): Promise<ClaimResult> {
    const { now, workerId, leaseMs } = params;
    this.promoteDue(now);
    const nameBudget = new Map(params.names);
    const groupBudget = new Map<string, number>();
    let nextRunAt: number | null = this.liveDelayedHead()?.runAt ?? null;
    const noteLater = (at: number) => (nextRunAt = nextRunAt === null ? at : Math.min(nextRunAt, at));

    const budgetOf = (group: string | null): number => {
      if (group === null) return Infinity;
      const cached = groupBudget.get(group);
      if (cached !== undefined) return cached;
      const g = this.groups.get(group);
      let budget = Infinity;
      if (g) {
        budget = g.concurrency - g.running;
        if (g.limiter) budget = Math.min(budget, g.limiter.available(now));
      }
      groupBudget.set(group, budget);
      return budget;
    };

    const eligible: Lane[] = [];
    for (const lane of this.lanes.values()) {
      if (lane.queue.size > 0 && (nameBudget.get(lane.name) ?? 0) > 0 && budgetOf(lane.group) > 0) eligible.push(lane);
    }

    const jobs: ClaimedJob[] = [];
    let limit = params.limit;
    while (limit > 0 && eligible.length > 0) {
      let bestIndex = -1;
      let best: MemoryRecord | undefined;
      for (let i = 0; i < eligible.length; i++) {
        const lane = eligible[i]!;
        const head = this.liveHead(lane);
        const usable =
          head !== undefined &&
          (nameBudget.get(lane.name) ?? 0) > 0 &&
          (lane.group === null || (groupBudget.get(lane.group) ?? Infinity) > 0);
        if (!usable) {
          eligible[i] = eligible[eligible.length - 1]!;
          eligible.pop();
          i--;
          continue;
        }
        if (best === undefined || runsBefore(head, best)) {
          best = head;
          bestIndex = i;
        }
      }
      if (best === undefined || bestIndex < 0) break;
      eligible[bestIndex]!.queue.pop();
      jobs.push(this.lease(best, workerId, leaseMs, now));
      limit--;
      nameBudget.set(best.name, (nameBudget.get(best.name) ?? 1) - 1);
      if (best.group !== null) groupBudget.set(best.group, (groupBudget.get(best.group) ?? Infinity) - 1);
    }
    // a group with waiting work whose window is full (before or because of this claim) reopens later
    for (const group of groupBudget.keys()) {
      const limiter = this.groups.get(group)?.limiter;
      if (limiter && limiter.available(now) === 0) noteLater(limiter.nextAvailableAt(now));
    }
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
          this.recordError(rec, outcome.error, params.now);
          this.finish(rec, "failed", params.now);
          break;
        case "cancelled":
          this.markCancelled(rec, outcome.reason, params.now, outcome.note);
          break;
        case "retry":
          this.recordError(rec, outcome.error, params.now);
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
      this.markCancelledFields(rec, params.reason, params.now);
      this.retain(rec, params.now);
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
    for (let rec = this.leasedHead, next: MemoryRecord | null; rec !== null; rec = next) {
      next = rec.leaseNext;
      if (result.requeued.length + result.failed.length + result.cancelled.length >= params.limit) break;
      if (rec.leaseExpiresAt === null || rec.leaseExpiresAt > params.now) continue;
      this.releaseLease(rec);
      if (rec.cancelRequested) {
        this.markCancelled(rec, rec.cancelReason ?? "cancelled", params.now);
        result.cancelled.push(rec.id);
        continue;
      }
      const error: SerializedError = {
        name: "LeaseExpiredError",
        code: "OPTIQ_LEASE_LOST",
        message: `lease expired at attempt ${rec.attempt}: the worker stopped heartbeating`,
      };
      this.recordError(rec, error, params.now);
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
    return Promise.resolve(this.trim(now));
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

  private laneOf(rec: MemoryRecord): Lane {
    const laneKey = rec.group === null ? rec.name : `${rec.name}\u0000${rec.group}`;
    let lane = this.lanes.get(laneKey);
    if (!lane) {
      lane = { name: rec.name, group: rec.group, queue: new RunQueue() };
      this.lanes.set(laneKey, lane);
    }
    return lane;
  }

  /** The lane's best job still queued; cancelled ones are dropped lazily here. */
  private liveHead(lane: Lane): MemoryRecord | undefined {
    let head = lane.queue.peek();
    while (head !== undefined && head.state !== "queued") {
      lane.queue.pop();
      head = lane.queue.peek();
    }
    return head;
  }

  /** The earliest delayed job still queued; cancelled ones are dropped lazily here. */
  private liveDelayedHead(): MemoryRecord | undefined {
    let head = this.delayed.peek();
    while (head !== undefined && head.state !== "queued") {
      this.delayed.pop();
      head = this.delayed.peek();
    }
    return head;
  }

  private promoteDue(now: number): void {
    for (let rec = this.delayed.peek(); rec !== undefined && rec.runAt <= now; rec = this.delayed.peek()) {
      this.delayed.pop();
      if (rec.state === "queued") this.laneOf(rec).queue.push(rec);
    }
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
    rec.leasePrev = this.leasedTail;
    if (this.leasedTail === null) this.leasedHead = rec;
    else this.leasedTail.leaseNext = rec;
    this.leasedTail = rec;
    if (rec.group !== null) {
      const g = this.groups.get(rec.group);
      if (g) {
        g.running++;
        g.limiter?.take(now);
      }
    }
    return new LeasedJob(rec);
  }

  /** Frees the lease and the group slot; the caller sets the next state. */
  private releaseLease(rec: MemoryRecord): void {
    this.stateCounts.running--;
    rec.leaseOwner = null;
    rec.leaseExpiresAt = null;
    const { leasePrev: prev, leaseNext: next } = rec;
    if (prev === null) this.leasedHead = next;
    else prev.leaseNext = next;
    if (next === null) this.leasedTail = prev;
    else next.leasePrev = prev;
    rec.leasePrev = null;
    rec.leaseNext = null;
    if (rec.group !== null) {
      const g = this.groups.get(rec.group);
      if (g) g.running--;
    }
  }

  private requeue(rec: MemoryRecord, runAt: number, now: number): void {
    this.stateCounts.queued++;
    rec.state = "queued";
    rec.moveRunAt(runAt);
    if (runAt <= now) this.laneOf(rec).queue.push(rec);
    else this.delayed.push(rec);
  }

  private finish(rec: MemoryRecord, state: JobState, now: number): void {
    this.stateCounts[state]++;
    rec.state = state;
    rec.finishedAt = now;
    this.retain(rec, now);
  }

  private markCancelled(rec: MemoryRecord, reason: string, now: number, note?: string): void {
    this.markCancelledFields(rec, reason, now, note);
    this.finish(rec, "cancelled", now);
  }

  private markCancelledFields(rec: MemoryRecord, reason: string, now: number, note?: string): void {
    rec.cancelReason = reason;
    rec.finishedAt = now;
    rec.error = {
      name: "JobCancelledError",
      code: "OPTIQ_JOB_CANCELLED",
      message: note ? `cancelled: ${reason}; ${note}` : `cancelled: ${reason}`,
    };
  }

  private recordError(rec: MemoryRecord, error: SerializedError, now: number): void {
    rec.error = error;
    const entry: AttemptError = { attempt: rec.attempt, at: now, error };
    if (rec.errors) rec.errors.push(entry);
    else rec.errors = [entry];
  }

  private retain(rec: MemoryRecord, now: number): void {
    this.finished.push(rec);
    this.trim(now);
  }

  /** Drops finished jobs beyond the retention count or age, oldest first. */
  private trim(now: number): number {
    let removed = 0;
    const { maxCount, maxAgeMs } = this.retention;
    for (let oldest = this.finished.peek(); oldest !== undefined; oldest = this.finished.peek()) {
      const tooMany = this.finished.size > maxCount;
      const tooOld = now - (oldest.finishedAt ?? now) > maxAgeMs;
      if (!tooMany && !tooOld) break;
      this.finished.shift();
      this.jobs.delete(oldest.seq);
      if (oldest.key !== null && this.keys.get(oldest.key) === oldest) this.keys.delete(oldest.key);
      this.stateCounts[oldest.state]--;
      oldest.recycle();
      removed++;
    }
    return removed;
  }

  private emitAvailable(): void {
    for (const l of this.listeners) l.onAvailable?.();
  }

  private emitFinished(ids: readonly string[]): void {
    for (const l of this.listeners) l.onFinished?.(ids);
  }
}

function noteOf(outcome: Outcome): string | undefined {
  return outcome.kind === "cancelled" ? outcome.note : undefined;
}

/** A class rather than an object literal, so V8 never pretenures these short-lived objects. */
class LeasedJob implements ClaimedJob {
  readonly id: string;
  readonly name: string;
  readonly input: unknown;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: number;
  readonly timeoutMs: number | null;
  readonly backoff: BackoffSpec;
  readonly key: string | null;
  readonly group: string | null;
  readonly createdAt: number;
  readonly runAt: number;
  readonly checkpoint: unknown;
  readonly leaseExpiresAt: number;

  constructor(rec: MemoryRecord) {
    this.id = rec.id;
    this.name = rec.name;
    this.input = JSON.parse(rec.inputJson) as unknown;
    this.attempt = rec.attempt;
    this.maxAttempts = rec.maxAttempts;
    this.priority = rec.priority;
    this.timeoutMs = rec.timeoutMs;
    this.backoff = rec.backoff;
    this.key = rec.key;
    this.group = rec.group;
    this.createdAt = rec.createdAt;
    this.runAt = rec.runAt;
    const checkpoint = rec.checkpointJson;
    this.checkpoint = checkpoint === null ? null : (JSON.parse(checkpoint) as unknown);
    this.leaseExpiresAt = rec.leaseExpiresAt ?? 0;
  }
}

/** A settle result: a class, for the reason LeasedJob is one. */
class Settled implements SettleResult {
  constructor(
    readonly id: string,
    readonly applied: boolean,
    readonly state: JobState | null,
  ) {}
}

/** An enqueue result: a class, for the reason LeasedJob is one. */
class Enqueued implements EnqueueResult {
  constructor(
    readonly id: string,
    readonly created: boolean,
  ) {}
}
