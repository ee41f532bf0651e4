import { JobCancelledError, JobTimeoutError, OptiqError } from "../core/errors.js";
import { debugEnabled } from "../core/logger.js";
import type { ClaimedJob, Outcome, SettleResult, Unsubscribe } from "../store/port.js";
import { AbortControl } from "./abort-control.js";
import { ActiveExecutions } from "./active-executions.js";
import { ClaimPlan, earliest, planClaim, prefetchLimit } from "./claim-plan.js";
import type { WorkerConfig } from "./config.js";
import { fallbackDefinition } from "./definition.js";
import { Execution, type ExecutionHost } from "./execution.js";
import { IdleWaiters, withDeadline } from "./idle-waiters.js";
import { LeaseKeeper } from "./lease-keeper.js";
import { outcomeOfAbort, outcomeOfError, outcomeOfValue } from "./outcome.js";
import { OutcomeReporter } from "./outcome-reporter.js";
import { ClaimTrigger } from "./claim-trigger.js";
import { PrefetchBuffer } from "./prefetch-buffer.js";
import { PrefetchHold } from "./prefetch-hold.js";
import { SettlementQueue } from "./settlement-queue.js";
import { Wakeups } from "./wakeups.js";

export type { WorkerConfig } from "./config.js";

const CLAIM_RETRY_MS = 1000;

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
  readonly zombies: Set<Execution>;
  private readonly settlements: SettlementQueue;
  private readonly buffer = new PrefetchBuffer();
  private readonly hold: PrefetchHold;
  private readonly reporter: OutcomeReporter;
  private readonly aborts: AbortControl;
  private readonly leases: LeaseKeeper;
  private readonly wakeups: Wakeups;
  private readonly idleWaiters: IdleWaiters;
  /** Reused by every claim (see ClaimPlan). */
  private readonly plan = new ClaimPlan();
  /** Moving average of attempt run times here, for prefetch "auto"; null until one ran. */
  private meanRunMs: number | null = null;
  /**
   * Prefetched jobs waited too long and went back (see PrefetchHold): hold
   * none until an attempt finishes here, or the next claim would take them
   * again and the worker would claim and release them every second.
   */
  private prefetchPaused = false;
  private readonly claims: ClaimTrigger;
  private unsubscribe: Unsubscribe | null = null;
  /** When a claim last found nothing to do and nothing was scheduled (for health). */
  nextWakeAt: number | null = null;
  lastClaimAt: number | null = null;

  constructor(private readonly config: WorkerConfig) {
    this.workerId = config.workerId;
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
    this.aborts = new AbortControl(config.clock, config.logger, config.workerId, (exec, outcome) =>
      this.finalize(exec, outcome),
    );
    this.zombies = this.aborts.zombies;
    this.leases = new LeaseKeeper(config, this.executions, this.buffer, this.aborts, (ids) => this.abortIds(ids));
    this.wakeups = new Wakeups(config.clock, this);
    this.hold = new PrefetchHold(config.clock, this.buffer, (jobs) => {
      this.prefetchPaused = true;
      return this.releaseJobs(jobs);
    });
    this.idleWaiters = new IdleWaiters(config.clock);
    const writeFirst = (): Promise<void> | null => (this.settlements.hasUnwritten ? this.settlements.flush() : null);
    this.claims = new ClaimTrigger(this, config.logger, config.store.capabilities.inProcess ? writeFirst : () => null);
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
    this.leases.start();
    if (this.config.pollIntervalMs !== null) this.wakeups.poll(this.config.pollIntervalMs);
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
    this.wakeups.stop();
    await this.claims.claiming;
    this.hold.stop();
    await this.releaseJobs(this.buffer.drain());
    if (graceful && this.executions.size > 0) {
      await this.waitForIdle(timeoutMs);
    }
    // abort what still runs; handlers that honour the signal get their grace period to stop
    const grace = this.aborts.abortForShutdown(this.executions.toArray());
    if (this.executions.size > 0) await this.waitForIdle(Math.min(grace, timeoutMs));
    this.aborts.abortForShutdown(this.executions.toArray(), 0);
    await withDeadline(
      this.settlements.flush().then(() => this.settlements.whenIdle()),
      timeoutMs,
    );
    this.settlements.abandon();
    this.leases.stop();
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    await unsubscribe?.();
    this.aborts.warnOfZombies();
  }

  /** Aborts this process's attempt of `id` (cancel requested). */
  abortIds(ids: readonly string[]): void {
    for (const exec of this.executions.findAll(ids)) {
      this.aborts.abort(exec, new JobCancelledError(exec.job.id, "cancel requested"));
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
    if (this.prefetchPaused) return 0;
    const oldest = this.executions.oldest;
    const runningForMs = oldest === null ? null : this.config.clock.now() - oldest.startedAt;
    return prefetchLimit(this.config.prefetch, this.config.concurrency, this.meanRunMs, runningForMs);
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

  /** New work may be runnable (a notification, a timer, a new handler): claim on the next turn. */
  schedulePump(): void {
    this.claims.newWork();
  }

  /** A freed slot led to no claim (see ClaimTrigger): the drained check reads the store's counts. */
  idleWithoutClaim(): void {
    if (this.busySlots === 0 && this.executions.size === 0 && this.buffer.size === 0) this.config.onIdle();
  }

  /** One claim for every free slot; testable on its own. */
  async claimOnce(): Promise<number> {
    if (!this.running) return 0;
    const { clock, store } = this.config;
    const now = clock.now();
    this.startBuffered(now);
    const plan = this.plan;
    const names = planClaim(
      plan,
      now,
      this.config.concurrency - this.busySlots,
      this.prefetchLimit(),
      this.buffer,
      this.config,
    );
    const limit = plan.limit;
    const heldBack = plan.heldBack;
    const begun = this.claims.begin();
    let wakeAt = plan.wakeAt;
    if (names.size === 0) {
      this.nextWakeAt = wakeAt;
      if (wakeAt !== null) this.wakeups.at(wakeAt);
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
      this.claims.failed();
      this.wakeups.at(clock.now() + CLAIM_RETRY_MS);
      return 0;
    }
    this.lastClaimAt = now;
    this.claims.claimed(begun, jobs.length < limit && !heldBack);
    if (!this.running && jobs.length > 0) {
      // stop() began while the claim was in flight: hand the jobs back, attempts undone
      await this.releaseJobs(jobs);
      return 0;
    }
    const startedAt = clock.now();
    for (const job of jobs) {
      if (this.buffer.size === 0 && this.canStart(job, startedAt)) this.startAttempt(job, startedAt);
      else this.buffer.push(job, startedAt);
    }
    if (this.config.prefetch === "auto") this.hold.watch(); // a number asked for is held whatever it costs
    if (jobs.length > 0) this.config.onClaimed();
    if (jobs.length === limit) {
      this.claims.request(); // there may be more
    } else {
      wakeAt = earliest(wakeAt, nextRunAt);
      if (wakeAt !== null) this.wakeups.at(wakeAt);
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
        () => this.aborts.abort(exec, new JobTimeoutError(timeoutMs)),
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
      this.slotFreed();
      return;
    }
    const now = this.config.clock.now();
    const runMs = now - exec.startedAt;
    this.meanRunMs = this.meanRunMs === null ? runMs : this.meanRunMs * 0.9 + runMs * 0.1;
    this.prefetchPaused = false;
    let outcome: Outcome | null;
    if (exec.abortReason) outcome = outcomeOfAbort(exec, exec.abortReason, now);
    else if (threw) outcome = outcomeOfError(exec, error, now);
    else outcome = outcomeOfValue(exec, value, this.config.maxPayloadBytes, now);
    this.finalize(exec, outcome);
    this.slotFreed();
  }

  /**
   * A handler returned: its slot goes first to a prefetched job, with no
   * store round trip, then to a claim. Both paths, a zombie's return too:
   * the claim may be skipped (the store had nothing more), and a buffered job
   * left waiting for it would wait for ever with an explicit prefetch.
   */
  private slotFreed(): void {
    if (this.running) this.startBuffered(this.config.clock.now());
    this.claims.slotFreed();
  }

  private finalize(exec: Execution, outcome: Outcome | null): void {
    exec.finalized = true;
    this.aborts.clearTimers(exec);
    this.executions.delete(exec);
    if (outcome === null) {
      this.config.logger.warn({ jobId: exec.job.id, name: exec.job.name }, "lease lost; outcome discarded");
      this.notifyIdle();
      return;
    }
    this.settlements.add(exec, outcome);
  }

  private afterSettled(execs: Execution[], results: SettleResult[]): void {
    for (const retryAt of this.reporter.report(execs, results)) this.wakeups.at(retryAt);
    this.notifyIdle();
    // a finished job of a group frees a slot of that group, across the store: work held back may be runnable
    if (execs.some((e) => e.job.group !== null)) this.schedulePump();
    else this.claims.slotFreed();
  }

  // progress, checkpoints, heartbeats: see LeaseKeeper

  onProgress(exec: Execution, value: unknown): void {
    this.leases.onProgress(exec, value);
  }

  onCheckpoint(exec: Execution, state: unknown): void {
    this.leases.onCheckpoint(exec, state);
  }

  /** Extends leases (all, or only attempts with unsaved progress) and learns of lost leases and cancels. */
  heartbeat(all: boolean): Promise<void> {
    return this.leases.heartbeat(all);
  }

  /** How long an attempt may go without progress before it counts as stuck. */
  stuckAfterMs(exec: Execution): number {
    return this.leases.stuckAfterMs(exec);
  }

  /** Aborts stuck attempts of names whose policy says so (checked at each heartbeat). */
  abortStuck(): void {
    this.leases.abortStuck();
  }

  private waitForIdle(timeoutMs: number): Promise<void> {
    const idle = this.idleWaiters.wait(timeoutMs);
    this.notifyIdle();
    return idle;
  }

  private notifyIdle(): void {
    if (this.executions.size > 0 || !this.settlements.idle) return;
    this.idleWaiters.notify();
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";
}
