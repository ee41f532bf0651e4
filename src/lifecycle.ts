import type { Clock } from "./core/clock.js";
import { NotRunningError } from "./core/errors.js";
import type { Logger } from "./core/logger.js";
import { checkDuration } from "./core/validate.js";
import type { CapacityGate } from "./capacity-gate.js";
import type { DefinitionRegistry } from "./definition-registry.js";
import type { LoopLagMonitor } from "./health.js";
import type { ResultWaiters } from "./result-waiters.js";
import type { Cleaner } from "./services/cleaner.js";
import type { LeaseRescuer } from "./services/lease-rescuer.js";
import type { GroupLimits, Retention, Store, Unsubscribe } from "./store/port.js";
import type { Worker } from "./worker/worker.js";

export interface StopOptions {
  /** Let running jobs finish (until timeoutMs) before aborting them. Default true. */
  graceful?: boolean;
  /** Deadline for a graceful stop, in ms. Default 30 s. */
  timeoutMs?: number;
}

/** What start() starts and stop() winds down, in order. */
export interface LifecycleParts {
  store: Store;
  clock: Clock;
  logger: Logger;
  workerId: string;
  concurrency: number;
  groups: ReadonlyMap<string, GroupLimits>;
  retention: Retention;
  worker: Worker;
  rescuer: LeaseRescuer;
  cleaner: Cleaner;
  loopLag: LoopLagMonitor;
  definitions: DefinitionRegistry;
  waiters: ResultWaiters;
  capacity: CapacityGate;
  /** The store reports these jobs finished (or, after a resync, they may have). */
  onFinished: (ids: readonly string[]) => void;
}

type State = "idle" | "running" | "stopping" | "stopped";

/**
 * The queue's states (idle → running → stopping → stopped, and running again
 * on start()), and the store, opened once for whichever operation needs it
 * first and closed by stop().
 */
export class Lifecycle {
  private state: State = "idle";
  private readyPromise: Promise<void> | null = null;
  private unsubscribe: Unsubscribe | null = null;
  private startedAtMs: number | null = null;

  constructor(private readonly parts: LifecycleParts) {}

  get running(): boolean {
    return this.state === "running";
  }

  /** stop() has begun (or ended): no more submissions or result waits. */
  get closed(): boolean {
    return this.state === "stopping" || this.state === "stopped";
  }

  /** When start() was last called; null before the first. */
  get startedAt(): number | null {
    return this.startedAtMs;
  }

  async start(): Promise<void> {
    if (this.state === "running") return;
    if (this.state === "stopping") throw new NotRunningError("stop() is still in progress");
    const { clock, logger, workerId, concurrency, worker, rescuer, cleaner, loopLag } = this.parts;
    this.state = "running";
    this.startedAtMs = clock.now();
    await this.ready();
    loopLag.start();
    rescuer.start();
    cleaner.start();
    await worker.start();
    logger.info({ workerId, concurrency }, "optiq started");
  }

  async stop(options: StopOptions): Promise<void> {
    if (this.state === "stopping" || this.state === "stopped") return;
    const wasIdle = this.state === "idle";
    // a queue that never opened its store has nothing to stop
    if (wasIdle && this.readyPromise === null) return;
    const graceful = options.graceful ?? true;
    const timeoutMs = checkDuration("options.timeoutMs", options.timeoutMs ?? 30_000);
    const { store, logger, workerId, worker, rescuer, cleaner, loopLag, definitions, waiters, capacity } = this.parts;
    this.state = "stopping";
    try {
      await worker.stop(graceful, timeoutMs);
      await definitions.closeSandboxes();
      await rescuer.stop();
      await cleaner.stop();
      loopLag.stop();
      waiters.rejectAll(new NotRunningError("the queue stopped before the job finished"));
      capacity.wake();
      const unsubscribe = this.unsubscribe;
      this.unsubscribe = null;
      await unsubscribe?.();
      await store.close();
    } finally {
      this.readyPromise = null;
      // a queue that only submitted goes back to idle: a later call reopens the store
      this.state = wasIdle ? "idle" : "stopped";
      logger.info({ workerId }, "optiq stopped");
    }
  }

  /**
   * Opens the store once (also for processes that only submit and wait).
   * Once stop() has begun, the store stays closed: every operation but
   * start() rejects with NotRunningError instead of quietly reopening it.
   */
  ready(): Promise<void> {
    if (this.closed) {
      return Promise.reject(new NotRunningError("the queue is stopped; start() it again to use it"));
    }
    this.readyPromise ??= this.open().catch((err: unknown) => {
      this.readyPromise = null;
      throw err;
    });
    return this.readyPromise;
  }

  private async open(): Promise<void> {
    const { store, groups, retention, waiters, onFinished } = this.parts;
    await store.init();
    await store.configure({ groups, retention });
    this.unsubscribe = await store.subscribe({
      onFinished: (ids) => onFinished(ids),
      onResync: () => onFinished(waiters.ids()),
    });
  }
}
