import type { Clock, TimerHandle } from "../core/clock.js";
import {
  JobCancelledError,
  JobStuckError,
  JobTimeoutError,
  LeaseLostError,
  OptiqError,
  ShutdownError,
} from "../core/errors.js";
import type { TypedEmitter } from "../core/events.js";
import { debugEnabled, type Logger } from "../core/logger.js";
import type { SlidingWindowLimiter } from "../core/rate-limiter.js";
import type { StatsRecorder } from "../core/stats.js";
import { toJson } from "../core/validate.js";
import type { ClaimedJob, Outcome, SettleResult, Store, Unsubscribe } from "../store/port.js";
import { fallbackDefinition, type ResolvedDefinition } from "./definition.js";
import { ActiveExecutions } from "./active-executions.js";
import { Execution, type ExecutionHost } from "./execution.js";
import { outcomeOfAbort, outcomeOfError, outcomeOfValue, withNote } from "./outcome.js";
import { OutcomeReporter } from "./outcome-reporter.js";
import { PrefetchBuffer } from "./prefetch-buffer.js";
import { SettlementQueue } from "./settlement-queue.js";
import { StepScheduler } from "./step-scheduler.js";

export interface WorkerConfig {
  store: Store;
  clock: Clock;
  logger: Logger;
  emitter: TypedEmitter;
  stats: StatsRecorder;
  workerId: string;
  concurrency: number;
  rateLimiter: SlidingWindowLimiter | null;
  definitions: ReadonlyMap<string, ResolvedDefinition>;
  leaseMs: number;
  /**
   * Jobs claimed ahead of free slots (0: claim only for free slots). "auto"
   * holds about PREFETCH_TARGET_MS of work: many short jobs, none of long
   * ones (a worker must not hoard long jobs other workers could run).
   */
  prefetch: number | "auto";
  /** Polling backstop for stores shared with other processes; null for none. */
  pollIntervalMs: number | null;
  maxPayloadBytes: number;
  /** Default for definitions without their own stuckAfterMs. */
  stuckAfterMs: number;
  /** Called when this worker saw nothing queued and nothing running. */
  onIdle: () => void;
  /** Called after a claim took jobs (queued count dropped). */
  onClaimed: () => void;
}

const CLAIM_RETRY_MS = 1000;
/** With prefetch "auto": buffer about this much work, by the recent mean run time. */
const PREFETCH_TARGET_MS = 50;
const PREFETCH_MAX = 1000;

/**
 * The claim loop. Modes: stopped → running (claims whenever slots are free
 * and the store reports work) → stopping (no claims; running attempts finish
 * or are aborted) → stopped. Every wake-up source — a store notification, a
 * freed slot, a timer for delayed work or a rate limit, the polling backstop —
 * only schedules one `pump`; pumps never overlap and never spin.
 */
export class Worker implements ExecutionHost {
  readonly workerId: string;
  private running = false;
  private busySlots = 0;
  /** Attempts not yet finalized, by job id. */
  private readonly executions = new ActiveExecutions();
  /** Finalized attempts whose handler ignored its abort and is still running. */
  readonly zombies = new Set<Execution>();
  private readonly settlements: SettlementQueue;
  private readonly buffer = new PrefetchBuffer();
  private readonly reporter: OutcomeReporter;
  private readonly steps: StepScheduler;
  /** Moving average of attempt run times here, for prefetch "auto"; null until one ran. */
  private meanRunMs: number | null = null;
  private pumpScheduled = false;
  /** The claim in flight, if any: stop() waits for it so no claimed job is left leased. */
  private pumping: Promise<void> | null = null;
  private pumpAgain = false;
  private wakeTimer: TimerHandle | null = null;
  private wakeAt: number | null = null;
  private heartbeatTimer: TimerHandle | null = null;
  private pollTimer: TimerHandle | null = null;
  private writeScheduled = false;
  private writeTimer: TimerHandle | null = null;
  private unsubscribe: Unsubscribe | null = null;
  private idleWaiters: (() => void)[] = [];
  /** When a claim last found nothing to do and nothing was scheduled (for health). */
  nextWakeAt: number | null = null;
  lastClaimAt: number | null = null;

  constructor(private readonly config: WorkerConfig) {
    this.workerId = config.workerId;
    this.steps = new StepScheduler(config.store.capabilities.inProcess);
    this.reporter = new OutcomeReporter(config);
    this.settlements = new SettlementQueue(
      config.store,
      config.clock,
      config.workerId,
      config.leaseMs,
      config.logger,
      (execs, results) => this.afterSettled(execs, results),
      () => this.notifyIdle(),
    );
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Slots in use: handlers that have not settled, zombies included. */
  get busy(): number {
    return this.busySlots;
  }

  get capacity(): number {
    return this.config.concurrency;
  }

  /** Attempts currently running here (not yet finalized). */
  get active(): Iterable<Execution> {
    return this.executions;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.settlements.resume();
    this.unsubscribe = await this.config.store.subscribe({
      onAvailable: () => this.schedulePump(),
      onCancelRequested: (ids) => this.abortIds(ids),
      // missed notifications: look for work, and learn of requested cancels from a heartbeat
      onResync: () => {
        this.schedulePump();
        void this.heartbeat(true);
      },
    });
    this.scheduleHeartbeat();
    if (this.config.pollIntervalMs !== null) this.schedulePoll(this.config.pollIntervalMs);
    this.schedulePump();
  }

  /**
   * Stops claiming. Graceful: running attempts may finish until `deadline`,
   * then are aborted (shutdown). Not graceful: aborted now. Resolves when
   * every outcome is written, or at the deadline if the store is unreachable.
   */
  async stop(graceful: boolean, timeoutMs: number): Promise<void> {
    if (!this.running && this.executions.size === 0) return;
    this.running = false;
    this.clearTimer("wakeTimer");
    this.clearTimer("pollTimer");
    await this.pumping;
    await this.releaseJobs(this.buffer.drain());
    if (graceful && this.executions.size > 0) {
      await this.waitForIdle(timeoutMs);
    }
    // abort what still runs; handlers that honour the signal get their grace period to stop
    let grace = 0;
    for (const exec of this.executions.toArray()) {
      grace = Math.max(grace, exec.def.abortGraceMs);
      this.abort(exec, new ShutdownError());
    }
    if (this.executions.size > 0) await this.waitForIdle(Math.min(grace, timeoutMs));
    for (const exec of this.executions.toArray()) this.abort(exec, new ShutdownError(), 0);
    await withDeadline(
      this.settlements.flush().then(() => this.settlements.whenIdle()),
      timeoutMs,
    );
    this.settlements.abandon();
    this.clearTimer("heartbeatTimer");
    if (this.writeTimer !== null) this.config.clock.clearTimeout(this.writeTimer);
    this.writeTimer = null;
    this.writeScheduled = false;
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    await unsubscribe?.();
    if (this.zombies.size > 0) {
      this.config.logger.warn(
        { jobs: [...this.zombies].map((e) => e.job.id) },
        "stopped with handlers that ignored their abort signal still running",
      );
    }
  }

  /** Aborts this process's attempt of `id` (cancel requested). */
  abortIds(ids: readonly string[]): void {
    for (const exec of this.executions.findAll(ids)) {
      this.abort(exec, new JobCancelledError(exec.job.id, "cancel requested"));
    }
    for (const id of ids) {
      const buffered = this.buffer.remove(id);
      if (buffered) this.finishUnstarted(buffered, { kind: "cancelled", reason: "cancel requested" });
    }
  }

  /** Settles a prefetched job that never started (its cancel was requested). */
  private finishUnstarted(job: ClaimedJob, outcome: Outcome): void {
    const def = this.config.definitions.get(job.name) ?? fallbackDefinition(job.name);
    const exec = new Execution(job, def, this.config.clock.now(), this);
    exec.handlerSettled = true;
    this.finalize(exec, outcome);
  }

  private async releaseJobs(jobs: ClaimedJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.config.store
      .release({
        workerId: this.workerId,
        jobs: jobs.map((j) => ({ id: j.id, attempt: j.attempt })),
        now: this.config.clock.now(),
      })
      .catch((err: unknown) =>
        this.config.logger.error({ err }, "releasing claimed jobs failed; their leases will expire"),
      );
  }

  /** How many jobs to hold beyond the free slots now. */
  prefetchLimit(): number {
    const { prefetch, concurrency } = this.config;
    if (prefetch !== "auto") return prefetch;
    if (this.meanRunMs === null) return 0; // nothing known yet: do not hoard what may be long jobs
    const slots = concurrency === Infinity ? PREFETCH_MAX : concurrency;
    return Math.min(PREFETCH_MAX, Math.round((slots * PREFETCH_TARGET_MS) / Math.max(this.meanRunMs, 0.01)));
  }

  /** Whether a claimed job may start now: a free slot, room under its name's limits. */
  private canStart(job: ClaimedJob, now: number): boolean {
    const def = this.config.definitions.get(job.name);
    if (this.busySlots >= this.config.concurrency) return false;
    if (!def?.handler) return true; // startAttempt fails it at once
    if (def.busy >= def.concurrency) return false;
    if (this.config.rateLimiter && this.config.rateLimiter.available(now) === 0) return false;
    return !def.limiter || def.limiter.available(now) > 0;
  }

  /** Starts prefetched jobs into free slots, with no store round trip. */
  private startBuffered(now: number): void {
    while (this.buffer.size > 0 && this.busySlots < this.config.concurrency) {
      const job = this.buffer.takeFirst((j) => this.canStart(j, now));
      if (!job) return;
      this.startAttempt(job, now);
    }
  }

  /**
   * Schedules one claim. `afterWork`: a job finished or a claim filled its
   * limit — with an in-process store the claim then follows in a microtask
   * (see StepScheduler); anything else (new jobs, timers, notifications)
   * waits for setImmediate, so a submit() resolves before its job starts.
   */
  schedulePump(afterWork = false): void {
    if (!this.running || this.pumpScheduled) return;
    this.pumpScheduled = true;
    if (afterWork) this.steps.schedule(this.scheduledPump);
    else setImmediate(this.scheduledPump);
  }

  private readonly scheduledPump = (): void => {
    this.pumpScheduled = false;
    if (this.config.store.capabilities.inProcess && this.settlements.hasUnwritten) {
      // write what finished first, so the claim sees the slots it frees (and the
      // finished attempts are let go at once); a write that keeps failing holds
      // claims back, which is right: outcomes could not be stored either
      void this.settlements.flush().then(() => this.schedulePump(true));
      return;
    }
    void this.pump();
  };

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = this.claimOnce().then(
      () => undefined,
      (err: unknown) => this.config.logger.error({ err }, "claim loop failed"),
    );
    try {
      await this.pumping;
    } finally {
      this.pumping = null;
      if (this.pumpAgain) {
        this.pumpAgain = false;
        this.schedulePump(true);
      }
    }
  }

  /** One claim for every free slot; testable on its own. */
  async claimOnce(): Promise<number> {
    if (!this.running) return 0;
    const { clock, store, definitions, rateLimiter } = this.config;
    const now = clock.now();
    this.startBuffered(now);
    let free = this.config.concurrency - this.busySlots;
    let wakeAt: number | null = null;
    if (rateLimiter && free > 0) {
      const tokens = rateLimiter.available(now);
      if (tokens === 0) wakeAt = rateLimiter.nextAvailableAt(now);
      free = Math.min(free, tokens);
    }
    // rate-limited starts are decided at start time: prefetching them would only hold leases
    const room = rateLimiter ? 0 : Math.max(0, this.prefetchLimit() - this.buffer.size);
    const limit = Math.max(0, free - this.buffer.size) + room;
    const names = new Map<string, number>();
    if (limit > 0) {
      for (const def of definitions.values()) {
        if (!def.handler) continue;
        const limited = def.limiter !== null || def.concurrency !== Infinity;
        let n = limited ? Math.min(limit, def.concurrency - def.busy - this.buffer.countOf(def.name)) : limit;
        if (def.limiter && n > 0) {
          const tokens = def.limiter.available(now);
          if (tokens === 0) wakeAt = min(wakeAt, def.limiter.nextAvailableAt(now));
          n = Math.min(n, tokens);
        }
        if (n > 0) names.set(def.name, n);
      }
    }
    if (names.size === 0) {
      this.nextWakeAt = wakeAt;
      if (wakeAt !== null) this.wakeAt_(wakeAt);
      return 0;
    }
    let jobs: ClaimedJob[];
    let nextRunAt: number | null;
    try {
      ({ jobs, nextRunAt } = await store.claim({
        workerId: this.workerId,
        limit,
        names,
        leaseMs: this.config.leaseMs,
        now,
      }));
    } catch (err) {
      this.config.logger.error({ err }, "claiming jobs failed; retrying");
      this.wakeAt_(clock.now() + CLAIM_RETRY_MS);
      return 0;
    }
    this.lastClaimAt = now;
    if (!this.running && jobs.length > 0) {
      // stop() began while the claim was in flight: hand the jobs back, attempts undone
      await this.releaseJobs(jobs);
      return 0;
    }
    const startedAt = clock.now();
    for (const job of jobs) {
      if (this.buffer.size === 0 && this.canStart(job, startedAt)) this.startAttempt(job, startedAt);
      else this.buffer.push(job);
    }
    if (jobs.length > 0) this.config.onClaimed();
    if (jobs.length === limit) {
      this.schedulePump(true); // there may be more
    } else {
      wakeAt = min(wakeAt, nextRunAt);
      if (wakeAt !== null) this.wakeAt_(wakeAt);
    }
    this.nextWakeAt = wakeAt;
    if (jobs.length === 0 && this.busySlots === 0 && this.executions.size === 0 && this.buffer.size === 0) {
      this.config.onIdle();
    }
    return jobs.length;
  }

  private startAttempt(job: ClaimedJob, now: number): void {
    const def = this.config.definitions.get(job.name);
    if (!def?.handler) {
      // claim only asks for defined names; a store returning others is a bug, but never lose the job
      const exec = new Execution(job, def ?? fallbackDefinition(job.name), now, this);
      this.finalize(
        exec,
        outcomeOfError(exec, new OptiqError("OPTIQ_UNKNOWN_JOB_NAME", `no handler for ${job.name}`), now),
      );
      return;
    }
    this.config.rateLimiter?.take(now);
    def.limiter?.take(now);
    const exec = new Execution(job, def, now, this);
    this.executions.add(exec);
    this.busySlots++;
    def.busy++;
    const queueWaitMs = now - job.runAt;
    this.config.stats.started(queueWaitMs, now);
    if (debugEnabled(this.config.logger)) {
      this.config.logger.debug({ jobId: job.id, name: job.name, attempt: job.attempt }, "job started");
    }
    if (this.config.emitter.has("started")) {
      this.config.emitter.emit("started", { id: job.id, name: job.name, attempt: job.attempt, queueWaitMs });
    }
    const timeoutMs = job.timeoutMs ?? def.timeoutMs;
    if (timeoutMs !== null) {
      exec.timeoutTimer = this.config.clock.setTimeout(
        () => this.abort(exec, new JobTimeoutError(timeoutMs)),
        timeoutMs,
      );
    }
    let returned: unknown;
    try {
      returned = def.handler(exec.runningJob, exec);
    } catch (err) {
      this.handlerSettled(exec, undefined, err, true);
      return;
    }
    if (isThenable(returned)) {
      returned.then(
        (value) => this.handlerSettled(exec, value, undefined, false),
        (err: unknown) => this.handlerSettled(exec, undefined, err, true),
      );
    } else {
      this.handlerSettled(exec, returned, undefined, false);
    }
  }

  private handlerSettled(exec: Execution, value: unknown, error: unknown, threw: boolean): void {
    if (exec.handlerSettled) return;
    exec.handlerSettled = true;
    this.busySlots--;
    exec.def.busy--;
    if (exec.finalized) {
      // a zombie finally stopped: only its slot was still held
      this.zombies.delete(exec);
      this.schedulePump(true);
      return;
    }
    const now = this.config.clock.now();
    const runMs = now - exec.startedAt;
    this.meanRunMs = this.meanRunMs === null ? runMs : this.meanRunMs * 0.9 + runMs * 0.1;
    let outcome: Outcome | null;
    if (exec.abortReason) outcome = outcomeOfAbort(exec, exec.abortReason, now);
    else if (threw) outcome = outcomeOfError(exec, error, now);
    else outcome = outcomeOfValue(exec, value, this.config.maxPayloadBytes, now);
    this.finalize(exec, outcome);
    if (this.running) this.startBuffered(now);
    this.schedulePump(true);
  }

  /**
   * Fires the attempt's signal. If the handler has not settled after the
   * grace period, the attempt is settled anyway (so callers get an answer)
   * and the handler becomes a zombie that keeps its slot.
   */
  private abort(exec: Execution, reason: OptiqError, graceMs = exec.def.abortGraceMs): void {
    if (exec.finalized) return;
    const first = exec.abort(reason);
    if (first) {
      this.clearExecTimer(exec, "timeoutTimer");
      this.config.logger.info({ jobId: exec.job.id, name: exec.job.name, reason: reason.code }, "aborting job");
    }
    const settleNow = () => {
      if (exec.handlerSettled || exec.finalized) return;
      this.zombies.add(exec);
      this.config.logger.warn(
        { jobId: exec.job.id, name: exec.job.name, graceMs },
        "handler did not stop after its abort signal; settling the job, the slot stays held until it returns",
      );
      const outcome = outcomeOfAbort(exec, exec.abortReason ?? reason, this.config.clock.now());
      const note = `the handler ignored its abort signal for ${graceMs} ms and may still be running on ${this.workerId}`;
      this.finalize(exec, outcome && withNote(outcome, note));
    };
    if (graceMs <= 0) {
      this.clearExecTimer(exec, "graceTimer");
      settleNow();
    } else if (first) {
      exec.graceTimer = this.config.clock.setTimeout(settleNow, graceMs);
    }
  }

  private finalize(exec: Execution, outcome: Outcome | null): void {
    exec.finalized = true;
    this.clearExecTimer(exec, "timeoutTimer");
    this.clearExecTimer(exec, "graceTimer");
    this.executions.delete(exec);
    if (outcome === null) {
      this.config.logger.warn({ jobId: exec.job.id, name: exec.job.name }, "lease lost; outcome discarded");
      this.notifyIdle();
      return;
    }
    this.settlements.add(exec, outcome);
  }

  private afterSettled(execs: Execution[], results: SettleResult[]): void {
    for (const retryAt of this.reporter.report(execs, results)) this.wakeAt_(retryAt);
    this.notifyIdle();
    // settling freed group slots and may have emptied the queue: look again
    this.schedulePump(true);
  }

  // progress and checkpoints: validated now, written in batches

  onProgress(exec: Execution, value: unknown): void {
    toJson("progress", value, this.config.maxPayloadBytes);
    exec.pendingProgress = value;
    exec.lastProgressAt = this.config.clock.now();
    if (this.config.emitter.has("progress")) {
      this.config.emitter.emit("progress", { id: exec.job.id, name: exec.job.name, progress: value });
    }
    this.scheduleWrites();
  }

  onCheckpoint(exec: Execution, state: unknown): void {
    toJson("checkpoint", state, this.config.maxPayloadBytes);
    exec.pendingCheckpoint = state;
    // a checkpoint is about surviving a crash: written at the next turn, not batched with progress
    this.scheduleWrites(true);
  }

  private scheduleWrites(urgent = false): void {
    const interval = urgent ? 0 : this.config.store.capabilities.writeIntervalMs;
    if (this.writeScheduled && !(urgent && this.writeTimer !== null)) return;
    if (this.writeTimer !== null) this.config.clock.clearTimeout(this.writeTimer);
    this.writeTimer = null;
    this.writeScheduled = true;
    const flush = () => {
      this.writeScheduled = false;
      this.writeTimer = null;
      void this.heartbeat(false);
    };
    if (interval <= 0) setImmediate(flush);
    else this.writeTimer = this.config.clock.setTimeout(flush, interval);
  }

  /** Extends leases (all, or only attempts with unsaved progress) and learns of lost leases and cancels. */
  async heartbeat(all: boolean): Promise<void> {
    const entries = [];
    for (const exec of this.executions) {
      if (!all && !exec.hasPendingWrites) continue;
      entries.push({ id: exec.job.id, attempt: exec.job.attempt, ...exec.takePendingWrites() });
    }
    if (all) for (const job of this.buffer) entries.push({ id: job.id, attempt: job.attempt });
    if (entries.length === 0) return;
    try {
      const { lost, cancelRequested } = await this.config.store.heartbeat({
        workerId: this.workerId,
        entries,
        leaseMs: this.config.leaseMs,
        now: this.config.clock.now(),
      });
      for (const exec of this.executions.findAll(lost)) this.abort(exec, new LeaseLostError(exec.job.id), 0);
      for (const id of lost) this.buffer.remove(id); // rescued elsewhere before it started here
      this.abortIds(cancelRequested);
    } catch (err) {
      this.config.logger.error({ err }, "heartbeat failed; will retry at the next beat");
    }
  }

  /** How long an attempt may go without progress before it counts as stuck. */
  stuckAfterMs(exec: Execution): number {
    return exec.def.stuckAfterMs ?? this.config.stuckAfterMs;
  }

  /** Aborts stuck attempts of names whose policy says so (checked at each heartbeat). */
  abortStuck(): void {
    const now = this.config.clock.now();
    for (const exec of this.executions.toArray()) {
      if (exec.def.onStuck !== "abort") continue;
      const quietMs = now - exec.lastProgressAt;
      if (quietMs > this.stuckAfterMs(exec)) this.abort(exec, new JobStuckError(quietMs));
    }
  }

  private scheduleHeartbeat(): void {
    const every = Math.max(10, Math.floor(this.config.leaseMs / 3));
    this.heartbeatTimer = this.config.clock.setTimeout(() => {
      this.abortStuck();
      void this.heartbeat(true).finally(() => {
        if (this.heartbeatTimer !== null) this.scheduleHeartbeat();
      });
    }, every);
  }

  private schedulePoll(every: number): void {
    this.pollTimer = this.config.clock.setTimeout(() => {
      this.schedulePump();
      if (this.running) this.schedulePoll(every);
    }, every);
  }

  private wakeAt_(at: number): void {
    if (!this.running) return;
    if (this.wakeTimer !== null && this.wakeAt !== null && this.wakeAt <= at) return;
    this.clearTimer("wakeTimer");
    this.wakeAt = at;
    this.wakeTimer = this.config.clock.setTimeout(
      () => {
        this.wakeTimer = null;
        this.wakeAt = null;
        this.schedulePump();
      },
      Math.max(0, at - this.config.clock.now()),
    );
  }

  private waitForIdle(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.config.clock.clearTimeout(timer);
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve();
      };
      const timer = this.config.clock.setTimeout(done, timeoutMs);
      this.idleWaiters.push(done);
      this.notifyIdle();
    });
  }

  private notifyIdle(): void {
    if (this.executions.size > 0 || !this.settlements.idle) return;
    for (const w of [...this.idleWaiters]) w();
  }

  private clearTimer(field: "wakeTimer" | "pollTimer" | "heartbeatTimer"): void {
    const t = this[field];
    if (t !== null) this.config.clock.clearTimeout(t);
    this[field] = null;
    if (field === "wakeTimer") this.wakeAt = null;
  }

  private clearExecTimer(exec: Execution, field: "timeoutTimer" | "graceTimer"): void {
    const t = exec[field];
    if (t !== null) this.config.clock.clearTimeout(t);
    exec[field] = null;
  }
}

function min(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";
}

/** Waits for `promise`, but no longer than `ms` (real time: the store may be unreachable). */
async function withDeadline(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
