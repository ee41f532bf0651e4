import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { systemClock, type Clock } from "./core/clock.js";
import type { DefineOptions, Handler, SubmitOptions } from "./core/definition.js";
import { AbortedError, JobNotFoundError, NotRunningError, ValidationError } from "./core/errors.js";
import { TypedEmitter, type Listener, type OptiqEventName } from "./core/events.js";
import type { Job } from "./core/job.js";
import { silentLogger, type Logger } from "./core/logger.js";
import { StatsRecorder } from "./core/stats.js";
import { JOB_STATES, type JobState } from "./core/states.js";
import { checkDuration, checkInteger, checkString } from "./core/validate.js";
import { CapacityGate } from "./capacity-gate.js";
import { DefinitionRegistry } from "./definition-registry.js";
import { LoopLagMonitor, assessHealth, type Health, type HealthThresholds } from "./health.js";
import { Lifecycle, type StopOptions } from "./lifecycle.js";
import type { OptiqOptions } from "./options.js";
import { ResultWaiters } from "./result-waiters.js";
import type { SandboxSpec } from "./sandbox/handler.js";
import { Cleaner } from "./services/cleaner.js";
import { LeaseRescuer } from "./services/lease-rescuer.js";
import { resolveSettings } from "./settings.js";
import { statsSnapshot, type Stats } from "./stats-snapshot.js";
import type { Store } from "./store/port.js";
import { MemoryStore } from "./stores/memory/memory-store.js";
import { Submitter, type SubmitManyItem, type Submitted } from "./submitter.js";
import { Worker } from "./worker/worker.js";

export type { Stats, StopOptions, SubmitManyItem, Submitted };

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
  private readonly concurrency: number;
  private readonly thresholds: HealthThresholds;
  private readonly definitions: DefinitionRegistry;
  private readonly waiters: ResultWaiters;
  private readonly statsRecorder: StatsRecorder;
  private readonly capacity: CapacityGate;
  private readonly worker: Worker;
  private readonly loopLag = new LoopLagMonitor();
  private readonly lifecycle: Lifecycle;
  private readonly submitter: Submitter;
  /** drained fires once per transition to idle, not on every idle poll. */
  private drainedEmitted = false;

  constructor(options: OptiqOptions = {}) {
    if (typeof options !== "object" || options === null) throw new ValidationError("options", "must be an object");
    this.store = options.store ?? new MemoryStore();
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.emitter = new TypedEmitter(this.logger);
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
    const settings = resolveSettings(options, this.store.capabilities);
    const { store, clock, logger, emitter } = this;
    this.concurrency = settings.concurrency;
    this.thresholds = settings.thresholds;
    this.waiters = new ResultWaiters(clock);
    this.capacity = new CapacityGate(clock, settings.pollIntervalMs, () => this.lifecycle.closed);
    this.statsRecorder = new StatsRecorder(clock.now());
    this.definitions = new DefinitionRegistry({
      logger,
      maxPayloadBytes: settings.maxPayloadBytes,
      jobDefaults: settings.jobDefaults,
      onHandler: () => this.worker.schedulePump(),
    });
    this.worker = new Worker({
      store,
      clock,
      logger,
      emitter,
      stats: this.statsRecorder,
      workerId: this.workerId,
      concurrency: settings.concurrency,
      rateLimiter: settings.rateLimiter,
      definitions: this.definitions.byName,
      leaseMs: settings.leaseMs,
      prefetch: settings.prefetch,
      pollIntervalMs: settings.pollIntervalMs,
      maxPayloadBytes: settings.maxPayloadBytes,
      stuckAfterMs: settings.thresholds.stuckAfterMs,
      onIdle: () => void this.checkDrained(),
      onClaimed: () => {
        this.drainedEmitted = false;
        this.capacity.wake();
      },
    });
    this.lifecycle = new Lifecycle({
      store,
      clock,
      logger,
      workerId: this.workerId,
      concurrency: settings.concurrency,
      groups: settings.groups,
      retention: settings.retention,
      worker: this.worker,
      rescuer: new LeaseRescuer(store, clock, logger, Math.max(1000, Math.floor(settings.leaseMs / 2))),
      cleaner: new Cleaner(store, clock, logger, 60_000),
      loopLag: this.loopLag,
      definitions: this.definitions,
      waiters: this.waiters,
      capacity: this.capacity,
      onFinished: (ids) => this.onFinished(ids),
    });
    this.submitter = new Submitter({
      store,
      clock,
      logger,
      emitter,
      stats: this.statsRecorder,
      lifecycle: this.lifecycle,
      definitions: this.definitions.byName,
      capacity: this.capacity,
      maxQueued: settings.maxQueued,
      maxPayloadBytes: settings.maxPayloadBytes,
    });
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
    this.definitions.define(name, handler as Handler | SandboxSpec, options);
    return this;
  }

  /**
   * Declares a job name without a handler: this process may submit it, and
   * workers elsewhere (sharing the store) run it.
   */
  declare(name: string, options: Omit<DefineOptions, "concurrency" | "rateLimit"> = {}): this {
    this.definitions.declare(name, options);
    return this;
  }

  /** Submits one job. Resolves once the store holds it. */
  submit<Input = unknown>(name: string, input?: Input, options: SubmitOptions = {}): Promise<Submitted> {
    return this.submitter.submit(name, input, options);
  }

  /** Submits many jobs in one store write: all are accepted, or none. */
  submitMany(items: readonly SubmitManyItem[]): Promise<Submitted[]> {
    return this.submitter.submitMany(items);
  }

  /**
   * Submits inside your own database transaction (`tx`: for PostgreSQL, a
   * `pg` client after BEGIN): the jobs exist exactly when you commit, and
   * vanish if you roll back. Only for stores with transactional enqueue.
   */
  submitWith(tx: unknown, items: readonly SubmitManyItem[]): Promise<Submitted[]> {
    return this.submitter.submitWith(tx, items);
  }

  /** A snapshot of one job, or null if unknown. */
  async get(id: string): Promise<Job | null> {
    checkString("id", id, 64);
    await this.lifecycle.ready();
    return this.store.get(id);
  }

  /** Lists jobs, newest first. */
  async list(
    params: { state?: JobState; name?: string; group?: string; beforeId?: string; limit?: number } = {},
  ): Promise<Job[]> {
    const limit = checkInteger("limit", params.limit ?? 50, 1, 1000);
    if (params.state !== undefined && !(JOB_STATES as readonly unknown[]).includes(params.state)) {
      throw new ValidationError("state", `must be one of ${JOB_STATES.join(", ")}`);
    }
    if (params.name !== undefined) checkString("name", params.name, 128);
    if (params.group !== undefined) checkString("group", params.group, 128);
    // ids are decimal on every store; anything else would mean something different to each of them
    if (params.beforeId !== undefined && !/^[0-9]{1,20}$/.test(checkString("beforeId", params.beforeId, 20))) {
      throw new ValidationError("beforeId", "must be a job id");
    }
    await this.lifecycle.ready();
    return this.store.list({ ...params, limit });
  }

  /**
   * Resolves with the job's result once it completes; rejects with
   * JobFailedError, JobCancelledError, JobNotFoundError, after `timeoutMs`
   * WaitTimeoutError, or when `signal` aborts AbortedError (the job itself
   * goes on in both cases).
   */
  async result<Result = unknown>(
    id: string,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<Result> {
    checkString("id", id, 64);
    const timeoutMs = options.timeoutMs === undefined ? null : checkDuration("options.timeoutMs", options.timeoutMs);
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new ValidationError("options.signal", "must be an AbortSignal");
    }
    if (this.lifecycle.closed) throw new NotRunningError();
    if (signal?.aborted) throw new AbortedError("result wait aborted");
    await this.lifecycle.ready();
    // listen first, then read: a finish between the two cannot be missed
    const { promise, waiter } = this.waiters.wait(id, timeoutMs);
    if (signal) {
      // a waiter leaves at once when its caller goes (a closed HTTP request, say), not at its timeout
      const onAbort = (): void => this.waiters.rejectOne(id, waiter, new AbortedError("result wait aborted"));
      signal.addEventListener("abort", onAbort, { once: true });
      const forget = (): void => signal.removeEventListener("abort", onAbort);
      promise.then(forget, forget);
      if (signal.aborted) onAbort(); // aborted while the store got ready
    }
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
    await this.lifecycle.ready();
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
    await this.lifecycle.ready();
    const now = this.clock.now();
    const counts = await this.store.counts();
    return statsSnapshot(counts, this.worker.busy, this.concurrency, this.statsRecorder, now);
  }

  async health(): Promise<Health> {
    const counts = this.lifecycle.running ? await this.store.counts() : null;
    return assessHealth(
      this.worker,
      counts?.queued ?? 0,
      this.lifecycle.startedAt,
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
  start(): Promise<void> {
    return this.lifecycle.start();
  }

  /**
   * Stops: takes no new jobs; graceful lets running ones finish until the
   * deadline, then aborts them (they end `cancelled`, reason shutdown).
   * Afterwards no timer keeps the process alive, every result() waiter has
   * been answered and submit() rejects. Idempotent; a no-op before start().
   */
  stop(options: StopOptions = {}): Promise<void> {
    return this.lifecycle.stop(options);
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
    if (!this.emitter.has("drained") || !this.lifecycle.running) return;
    if (this.drainedEmitted) return;
    const counts = await this.store.counts();
    if (this.drainedEmitted || counts.queued !== 0 || counts.running !== 0 || this.worker.busy !== 0) return;
    this.drainedEmitted = true;
    this.emitter.emit("drained", {});
  }
}
