import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { systemClock, type Clock } from "./core/clock.js";
import type { DefineOptions, Handler, SubmitOptions } from "./core/definition.js";
import {
  JobNotFoundError,
  NotRunningError,
  OptiqError,
  QueueFullError,
  UnknownJobNameError,
  ValidationError,
} from "./core/errors.js";
import { TypedEmitter, type Listener, type OptiqEventName } from "./core/events.js";
import type { Job } from "./core/job.js";
import { silentLogger, type Logger } from "./core/logger.js";
import { SlidingWindowLimiter } from "./core/rate-limiter.js";
import { StatsRecorder, type Quantiles, type Totals } from "./core/stats.js";
import type { JobState } from "./core/states.js";
import { checkDuration, checkInteger, checkRateLimit, checkString } from "./core/validate.js";
import { LoopLagMonitor, assessHealth, type Health, type HealthThresholds } from "./health.js";
import {
  BASE_JOB_DEFAULTS,
  resolvePrefetch,
  checkConcurrency,
  checkLeaseMs,
  resolveGroups,
  resolveJobDefaults,
  type OptiqOptions,
  type ResolvedJobDefaults,
} from "./options.js";
import { CapacityGate } from "./capacity-gate.js";
import { ResultWaiters } from "./result-waiters.js";
import { Cleaner } from "./services/cleaner.js";
import { LeaseRescuer } from "./services/lease-rescuer.js";
import type { EnqueueJob, GroupLimits, Retention, Store, StoreCounts, Unsubscribe } from "./store/port.js";
import { MemoryStore } from "./stores/memory/memory-store.js";
import type { ResolvedDefinition } from "./worker/definition.js";
import { Worker } from "./worker/worker.js";
import { NO_OPTIONS, atItem, buildEnqueueJob } from "./submission.js";
import {
  isSandboxedHandler,
  sandboxDefineOptions,
  sandboxHandler,
  type SandboxedHandler,
  type SandboxSpec,
} from "./sandbox/handler.js";

export interface Submitted {
  id: string;
  /** false when the idempotency key matched an existing job (whose id this is). */
  created: boolean;
}

export interface SubmitManyItem {
  name: string;
  input?: unknown;
  options?: Omit<SubmitOptions, "ifFull" | "waitTimeoutMs" | "signal">;
}

export interface Stats {
  /** Jobs per state in the store. */
  counts: StoreCounts;
  running: number;
  capacity: number;
  /** running / capacity, 0..1 (slots held by zombie handlers count as running). */
  utilization: number;
  totals: Totals;
  /** Jobs completed per second over the last minute. */
  throughputPerSecond: number;
  queueWaitMs: Quantiles;
  runTimeMs: Quantiles;
}

export interface StopOptions {
  /** Let running jobs finish (until timeoutMs) before aborting them. Default true. */
  graceful?: boolean;
  /** Deadline for a graceful stop, in ms. Default 30 s. */
  timeoutMs?: number;
}

type Lifecycle = "idle" | "running" | "stopping" | "stopped";

const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
const DEFAULT_RETENTION: Retention = { maxAgeMs: 24 * 3600_000, maxCount: 10_000 };

/**
 * The queue. One instance is a producer (submit, result, cancel, inspect)
 * and, once started, a worker running the handlers defined on it.
 */
export class Optiq {
  readonly store: Store;
  readonly workerId: string;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly emitter: TypedEmitter;
  private readonly definitions = new Map<string, ResolvedDefinition>();
  private readonly jobDefaults: ResolvedJobDefaults;
  private readonly groups: Map<string, GroupLimits>;
  private readonly retention: Retention;
  private readonly maxQueued: number | null;
  private readonly maxPayloadBytes: number;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number | null;
  private readonly thresholds: HealthThresholds;
  private readonly waiters: ResultWaiters;
  private readonly statsRecorder: StatsRecorder;
  private readonly worker: Worker;
  private readonly rescuer: LeaseRescuer;
  private readonly cleaner: Cleaner;
  private readonly loopLag = new LoopLagMonitor();
  /** Thread/process pools of sandboxed handlers; closed by stop(), restarted lazily. */
  private readonly sandboxes = new Set<SandboxedHandler>();
  private lifecycle: Lifecycle = "idle";
  private readyPromise: Promise<void> | null = null;
  private unsubscribe: Unsubscribe | null = null;
  private startedAt: number | null = null;
  private readonly capacity: CapacityGate;
  /** drained fires once per transition to idle, not on every idle poll. */
  private drainedEmitted = false;

  constructor(options: OptiqOptions = {}) {
    if (typeof options !== "object" || options === null) throw new ValidationError("options", "must be an object");
    this.store = options.store ?? new MemoryStore();
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.emitter = new TypedEmitter(this.logger);
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
    this.concurrency = checkConcurrency("options.concurrency", options.concurrency ?? 10);
    this.maxQueued =
      options.maxQueued === undefined
        ? null
        : checkInteger("options.maxQueued", options.maxQueued, 1, Number.MAX_SAFE_INTEGER);
    this.maxPayloadBytes = checkInteger(
      "options.maxPayloadBytes",
      options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD,
      16,
      256 * 1024 * 1024,
    );
    this.retention = {
      maxAgeMs: checkDuration("options.retention.maxAgeMs", options.retention?.maxAgeMs ?? DEFAULT_RETENTION.maxAgeMs),
      maxCount: checkInteger(
        "options.retention.maxCount",
        options.retention?.maxCount ?? DEFAULT_RETENTION.maxCount,
        0,
        Number.MAX_SAFE_INTEGER,
      ),
    };
    this.jobDefaults = resolveJobDefaults("options.defaults", options.defaults, BASE_JOB_DEFAULTS);
    this.groups = resolveGroups(options.groups);
    this.leaseMs = checkLeaseMs(options.leaseMs ?? 30_000);
    this.pollIntervalMs = this.store.capabilities.shared
      ? checkDuration("options.pollIntervalMs", options.pollIntervalMs ?? 1000, { allowZero: false })
      : null;
    this.thresholds = {
      stuckAfterMs: checkDuration("options.stuckAfterMs", options.stuckAfterMs ?? 10 * 60_000),
      stallAfterMs: checkDuration("options.stallAfterMs", options.stallAfterMs ?? 30_000),
      eventLoopLagMs: checkDuration("options.eventLoopLagMs", options.eventLoopLagMs ?? 200),
    };
    const rateLimiter = options.rateLimit
      ? new SlidingWindowLimiter(checkRateLimit("options.rateLimit", options.rateLimit))
      : null;
    this.waiters = new ResultWaiters(this.clock);
    this.capacity = new CapacityGate(
      this.clock,
      this.pollIntervalMs,
      () => this.lifecycle === "stopping" || this.lifecycle === "stopped",
    );
    this.statsRecorder = new StatsRecorder(this.clock.now());
    this.worker = new Worker({
      store: this.store,
      clock: this.clock,
      logger: this.logger,
      emitter: this.emitter,
      stats: this.statsRecorder,
      workerId: this.workerId,
      concurrency: this.concurrency,
      rateLimiter,
      definitions: this.definitions,
      leaseMs: this.leaseMs,
      prefetch: resolvePrefetch(options.prefetch, this.store.capabilities.durable),
      pollIntervalMs: this.pollIntervalMs,
      maxPayloadBytes: this.maxPayloadBytes,
      stuckAfterMs: this.thresholds.stuckAfterMs,
      onIdle: () => void this.checkDrained(),
      onClaimed: () => {
        this.drainedEmitted = false;
        this.capacity.wake();
      },
    });
    this.rescuer = new LeaseRescuer(this.store, this.clock, this.logger, Math.max(1000, Math.floor(this.leaseMs / 2)));
    this.cleaner = new Cleaner(this.store, this.clock, this.logger, 60_000);
  }

  /**
   * Registers the handler of a job name, with per-name options. The handler
   * is a function, or a sandbox spec `{ module, isolation: "thread" | "process", ... }`
   * to run it in a pool of worker threads or child processes.
   */
  define<Input = unknown, Result = unknown>(
    name: string,
    handler: Handler<Input, Result> | SandboxSpec,
    options: DefineOptions = {},
  ): this {
    if ((typeof handler === "object" && handler !== null) || isSandboxedHandler(handler)) {
      const sandboxed = isSandboxedHandler(handler)
        ? handler
        : sandboxHandler(handler, { logger: this.logger, maxPayloadBytes: this.maxPayloadBytes });
      this.register(name, sandboxed, sandboxDefineOptions(sandboxed, options, this.jobDefaults.abortGraceMs));
      this.sandboxes.add(sandboxed);
      return this;
    }
    if (typeof handler !== "function") throw new ValidationError("handler", "must be a function or a sandbox spec");
    this.register(name, handler as Handler, options);
    return this;
  }

  /**
   * Declares a job name without a handler: this process may submit it, and
   * workers elsewhere (sharing the store) run it.
   */
  declare(name: string, options: Omit<DefineOptions, "concurrency" | "rateLimit"> = {}): this {
    this.register(name, undefined, options);
    return this;
  }

  private register(name: string, handler: Handler | undefined, options: DefineOptions): void {
    checkString("name", name, 128);
    if (typeof options !== "object" || options === null) throw new ValidationError("options", "must be an object");
    const resolved = resolveJobDefaults("options", options, this.jobDefaults);
    const concurrency =
      options.concurrency === undefined ? Infinity : checkConcurrency("options.concurrency", options.concurrency);
    const limiter = options.rateLimit
      ? new SlidingWindowLimiter(checkRateLimit("options.rateLimit", options.rateLimit))
      : null;
    const previous = this.definitions.get(name);
    this.definitions.set(name, { name, handler, concurrency, limiter, ...resolved, busy: previous?.busy ?? 0 });
    if (handler) this.worker.schedulePump();
  }

  /** Submits one job. Resolves once the store holds it. */
  async submit<Input = unknown>(name: string, input?: Input, options: SubmitOptions = {}): Promise<Submitted> {
    let job: EnqueueJob;
    try {
      job = this.prepare(name, input, options);
    } catch (err) {
      throw this.rejected(err);
    }
    const [result] = await this.enqueue([job], options);
    return result!;
  }

  /** Submits many jobs in one store write: all are accepted, or none. */
  async submitMany(items: readonly SubmitManyItem[]): Promise<Submitted[]> {
    if (!Array.isArray(items)) throw this.rejected(new ValidationError("items", "must be an array"));
    const jobs = this.prepareItems(items);
    if (jobs.length === 0) return [];
    return this.enqueue(jobs, {});
  }

  /**
   * Submits inside your own database transaction (`tx`: for PostgreSQL, a
   * `pg` client after BEGIN): the jobs exist exactly when you commit, and
   * vanish if you roll back. Only for stores with transactional enqueue.
   */
  async submitWith(tx: unknown, items: readonly SubmitManyItem[]): Promise<Submitted[]> {
    const enqueueWith = this.store.enqueueWith?.bind(this.store);
    if (!this.store.capabilities.transactionalEnqueue || !enqueueWith) {
      throw this.rejected(new ValidationError("store", "this store cannot enqueue inside a caller's transaction"));
    }
    if (!Array.isArray(items)) throw this.rejected(new ValidationError("items", "must be an array"));
    const jobs = this.prepareItems(items);
    await this.ready();
    try {
      const results = await enqueueWith(tx, { jobs, now: this.clock.now(), maxQueued: this.maxQueued });
      this.afterEnqueue(jobs, results);
      return results;
    } catch (err) {
      throw this.rejected(err);
    }
  }

  /** Validates a submission; errors name fields as submit() does (`name`, `options.delayMs`). */
  private prepare(name: string, input: unknown, options: SubmitOptions): EnqueueJob {
    if (this.lifecycle === "stopping" || this.lifecycle === "stopped") throw new NotRunningError();
    const def = typeof name === "string" ? this.definitions.get(name) : undefined;
    if (!def) {
      checkString("name", name, 128);
      throw new UnknownJobNameError(name);
    }
    return buildEnqueueJob(def, input, options, this.clock.now(), this.maxPayloadBytes);
  }

  /** prepare() for each item of submitMany / submitWith; errors name the item (`items[3].options.delayMs`). */
  private prepareItems(items: readonly SubmitManyItem[]): EnqueueJob[] {
    const jobs = new Array<EnqueueJob>(items.length);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (typeof item !== "object" || item === null) {
        throw this.rejected(new ValidationError(`items[${i}]`, "must be { name, input?, options? }"));
      }
      try {
        jobs[i] = this.prepare(item.name, item.input, item.options ?? NO_OPTIONS);
      } catch (err) {
        throw this.rejected(atItem(err, i));
      }
    }
    return jobs;
  }

  private async enqueue(jobs: EnqueueJob[], options: SubmitOptions): Promise<Submitted[]> {
    let waitMs: number | null;
    try {
      waitMs =
        options.waitTimeoutMs === undefined ? null : checkDuration("options.waitTimeoutMs", options.waitTimeoutMs);
    } catch (err) {
      throw this.rejected(err); // an invalid submission, like any other
    }
    await this.ready();
    const deadline = waitMs === null ? null : this.clock.now() + waitMs;
    for (;;) {
      try {
        const results = await this.store.enqueue({ jobs, now: this.clock.now(), maxQueued: this.maxQueued });
        this.afterEnqueue(jobs, results);
        return results;
      } catch (err) {
        if (!(err instanceof QueueFullError) || options.ifFull !== "wait") throw this.rejected(err);
        await this.capacity.wait(deadline, options.signal, err).catch((waitErr: unknown) => {
          throw this.rejected(waitErr);
        });
      }
    }
  }

  private afterEnqueue(jobs: EnqueueJob[], results: Submitted[]): void {
    const wantEvent = this.emitter.has("submitted");
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      if (!r.created) continue;
      const j = jobs[i]!;
      this.statsRecorder.totals.submitted++;
      this.logger.debug({ jobId: r.id, name: j.name }, "job submitted");
      if (wantEvent)
        this.emitter.emit("submitted", {
          id: r.id,
          name: j.name,
          priority: j.priority,
          runAt: j.runAt,
          group: j.group,
        });
    }
  }

  /** Event-driven wait for room in a full queue: woken when jobs start, finish or are cancelled. */

  /** A snapshot of one job, or null if unknown. */
  async get(id: string): Promise<Job | null> {
    checkString("id", id, 64);
    await this.ready();
    return this.store.get(id);
  }

  /** Lists jobs, newest first. */
  async list(
    params: { state?: JobState; name?: string; group?: string; beforeId?: string; limit?: number } = {},
  ): Promise<Job[]> {
    await this.ready();
    const limit = checkInteger("limit", params.limit ?? 50, 1, 1000);
    return this.store.list({ ...params, limit });
  }

  /**
   * Resolves with the job's result once it completes; rejects with
   * JobFailedError, JobCancelledError, JobNotFoundError or, after
   * `timeoutMs`, WaitTimeoutError (the job itself goes on).
   */
  async result<Result = unknown>(id: string, options: { timeoutMs?: number } = {}): Promise<Result> {
    checkString("id", id, 64);
    const timeoutMs = options.timeoutMs === undefined ? null : checkDuration("options.timeoutMs", options.timeoutMs);
    if (this.lifecycle === "stopping" || this.lifecycle === "stopped") throw new NotRunningError();
    await this.ready();
    // listen first, then read: a finish between the two cannot be missed
    const { promise, waiter } = this.waiters.wait(id, timeoutMs);
    this.store.get(id).then(
      (job) => {
        if (job === null) this.waiters.rejectOne(id, waiter, new JobNotFoundError(id));
        else this.waiters.deliver(job);
      },
      (err: unknown) => this.waiters.rejectOne(id, waiter, err),
    );
    return promise as Promise<Result>;
  }

  /**
   * Cancels a queued job (it never runs) or a running one (its signal aborts;
   * it ends `cancelled`). true if it was queued or running.
   */
  async cancel(id: string, options: { reason?: string } = {}): Promise<boolean> {
    checkString("id", id, 64);
    const reason =
      options.reason === undefined ? "cancelled by request" : checkString("options.reason", options.reason, 1000);
    await this.ready();
    const outcome = await this.store.cancel({ id, reason, now: this.clock.now() });
    if (outcome === "cancelled") {
      this.statsRecorder.finished("cancelled", null, this.clock.now());
      const name = (await this.store.get(id))?.name ?? "";
      this.logger.info({ jobId: id, name, reason }, "job cancelled while queued");
      this.emitter.emit("cancelled", { id, name, reason });
      this.capacity.wake();
      void this.checkDrained();
    }
    return outcome === "cancelled" || outcome === "requested";
  }

  async stats(): Promise<Stats> {
    await this.ready();
    const now = this.clock.now();
    const counts = await this.store.counts();
    const running = this.worker.busy;
    const capacity = this.concurrency;
    return {
      counts,
      running,
      capacity,
      utilization: capacity === Infinity ? 0 : running / capacity,
      totals: { ...this.statsRecorder.totals },
      throughputPerSecond: this.statsRecorder.completedPerSecond(now),
      queueWaitMs: this.statsRecorder.queueWaitMs(now),
      runTimeMs: this.statsRecorder.runTimeMs(now),
    };
  }

  async health(): Promise<Health> {
    const counts = this.lifecycle === "running" ? await this.store.counts() : null;
    return assessHealth(
      this.worker,
      counts?.queued ?? 0,
      this.startedAt,
      this.statsRecorder.lastStartAt,
      this.clock.now(),
      this.thresholds,
      this.loopLag.readP99(),
    );
  }

  on<E extends OptiqEventName>(event: E, listener: Listener<E>): () => void {
    return this.emitter.on(event, listener);
  }

  off<E extends OptiqEventName>(event: E, listener: Listener<E>): void {
    this.emitter.off(event, listener);
  }

  /** Starts running defined handlers. Idempotent; works again after stop(). */
  async start(): Promise<void> {
    if (this.lifecycle === "running") return;
    if (this.lifecycle === "stopping") throw new NotRunningError("stop() is still in progress");
    this.lifecycle = "running";
    this.startedAt = this.clock.now();
    await this.ready();
    this.loopLag.start();
    this.rescuer.start();
    this.cleaner.start();
    await this.worker.start();
    this.logger.info({ workerId: this.workerId, concurrency: this.concurrency }, "optiq started");
  }

  /**
   * Stops: takes no new jobs; graceful lets running ones finish until the
   * deadline, then aborts them (they end `cancelled`, reason shutdown).
   * Afterwards no timer keeps the process alive, every result() waiter has
   * been answered and submit() rejects. Idempotent; a no-op before start().
   */
  async stop(options: StopOptions = {}): Promise<void> {
    if (this.lifecycle === "stopping" || this.lifecycle === "stopped") return;
    const wasIdle = this.lifecycle === "idle";
    if (wasIdle && this.readyPromise === null) return;
    const graceful = options.graceful ?? true;
    const timeoutMs = checkDuration("options.timeoutMs", options.timeoutMs ?? 30_000);
    this.lifecycle = "stopping";
    try {
      await this.worker.stop(graceful, timeoutMs);
      await Promise.all([...this.sandboxes].map((s) => s.close()));
      await this.rescuer.stop();
      await this.cleaner.stop();
      this.loopLag.stop();
      this.waiters.rejectAll(new NotRunningError("the queue stopped before the job finished"));
      this.capacity.wake();
      const unsubscribe = this.unsubscribe;
      this.unsubscribe = null;
      await unsubscribe?.();
      await this.store.close();
    } finally {
      this.readyPromise = null;
      this.lifecycle = wasIdle ? "idle" : "stopped";
      this.logger.info({ workerId: this.workerId }, "optiq stopped");
    }
  }

  /**
   * Opens the store once (also for processes that only submit and wait).
   * Once stop() has begun, the store stays closed: every operation but
   * start() rejects with NotRunningError instead of quietly reopening it.
   */
  private ready(): Promise<void> {
    if (this.lifecycle === "stopping" || this.lifecycle === "stopped") {
      return Promise.reject(new NotRunningError("the queue is stopped; start() it again to use it"));
    }
    this.readyPromise ??= this.open().catch((err: unknown) => {
      this.readyPromise = null;
      throw err;
    });
    return this.readyPromise;
  }

  private async open(): Promise<void> {
    await this.store.init();
    await this.store.configure({ groups: this.groups, retention: this.retention });
    this.unsubscribe = await this.store.subscribe({
      onFinished: (ids) => this.onFinished(ids),
      onResync: () => this.onFinished(this.waiters.ids()),
    });
  }

  private onFinished(ids: readonly string[]): void {
    this.capacity.wake();
    if (this.waiters.size === 0) return;
    for (const id of ids) {
      if (!this.waiters.has(id)) continue;
      this.store.get(id).then(
        (job) => {
          if (job) this.waiters.deliver(job);
        },
        (err: unknown) => this.logger.error({ err, jobId: id }, "reading a finished job failed"),
      );
    }
  }

  private async checkDrained(): Promise<void> {
    if (!this.emitter.has("drained") || this.lifecycle !== "running") return;
    if (this.drainedEmitted) return;
    const counts = await this.store.counts();
    if (this.drainedEmitted || counts.queued !== 0 || counts.running !== 0 || this.worker.busy !== 0) return;
    this.drainedEmitted = true;
    this.emitter.emit("drained", {});
  }

  private rejected(err: unknown): unknown {
    this.statsRecorder.totals.rejected++;
    if (!(err instanceof OptiqError)) return err;
    this.logger.debug({ code: err.code, err }, "submission rejected");
    return err;
  }
}
