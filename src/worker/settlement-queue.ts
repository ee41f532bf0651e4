import type { Logger } from "../core/logger.js";
import type { Clock } from "../core/clock.js";
import type { Outcome, SettleResult, Store } from "../store/port.js";
import type { Execution } from "./execution.js";

/**
 * One outcome as the store receives it. A class, not an object literal: V8
 * may pretenure a hot literal site (allocate it in the old generation), and
 * a settlement there would keep its attempt's objects alive until a full GC.
 */
class Settlement {
  readonly id: string;
  readonly attempt: number;
  readonly outcome: Outcome;

  constructor(exec: Execution, outcome: Outcome) {
    this.id = exec.job.id;
    this.attempt = exec.job.attempt;
    this.outcome = outcome;
  }
}

/**
 * Collects outcomes and writes them in batches: one store call per event-loop
 * turn however many jobs finished in it. Only one write is in flight; outcomes
 * arriving meanwhile form the next batch. A failed write is retried with
 * backoff, never dropped: the guarded update makes a repeat harmless.
 */
export class SettlementQueue {
  /** Finalized attempts whose `outcome` is not written yet. */
  private pending: Execution[] = [];
  private flushing: Promise<void> | null = null;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];
  private abandoned = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly workerId: string,
    private readonly leaseMs: number,
    private readonly logger: Logger,
    /** Called with the written attempts and, index for index, what the store made of each. */
    private readonly onSettled: (execs: Execution[], results: SettleResult[]) => void,
    private readonly onIdle: () => void,
  ) {}

  add(exec: Execution, outcome: Outcome): void {
    exec.outcome = outcome;
    this.pending.push(exec);
    if (!this.scheduled && !this.flushing) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.flush();
      });
    }
  }

  /** Outcomes added and not yet written (a write may be in flight). */
  get hasUnwritten(): boolean {
    return this.pending.length > 0 || this.flushing !== null;
  }

  get idle(): boolean {
    return this.pending.length === 0 && !this.flushing && !this.scheduled;
  }

  /** Resolves once every outcome added so far is written. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.length === 0) {
      this.notifyIdle();
      return Promise.resolve();
    }
    this.flushing = this.writeAll().finally(() => {
      this.flushing = null;
      if (this.pending.length > 0) void this.flush();
      else this.notifyIdle();
    });
    return this.flushing;
  }

  private async writeAll(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    for (let attempt = 1; ; attempt++) {
      try {
        await this.saveLastWrites(batch);
        const settlements = new Array<Settlement>(batch.length);
        for (let i = 0; i < batch.length; i++) settlements[i] = new Settlement(batch[i]!, batch[i]!.outcome!);
        const results = await this.store.settle({ workerId: this.workerId, now: this.clock.now(), settlements });
        this.onSettled(batch, results);
        return;
      } catch (err) {
        if (this.abandoned) {
          // the worker stopped and gave up on the store: the leases expire and the rescuer re-runs these jobs
          this.logger.error({ err, jobs: batch.map((exec) => exec.job.id) }, "outcomes not written before stop");
          return;
        }
        const delay = Math.min(30_000, 100 * 2 ** Math.min(attempt, 8));
        this.logger.error({ err, jobs: batch.length, retryInMs: delay }, "writing job outcomes failed; retrying");
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  }

  /**
   * Called when stop() has waited as long as it may: failed writes are no
   * longer retried (and no retry timer keeps the process alive).
   */
  abandon(): void {
    this.abandoned = true;
  }

  /** A started worker retries failed writes again. */
  resume(): void {
    this.abandoned = false;
  }

  /** Progress or a checkpoint reported just before the handler returned must not be lost. */
  private async saveLastWrites(batch: Execution[]): Promise<void> {
    const entries = [];
    for (const exec of batch) {
      if (exec.hasPendingWrites)
        entries.push({ id: exec.job.id, attempt: exec.job.attempt, ...exec.takePendingWrites() });
    }
    if (entries.length === 0) return;
    await this.store.heartbeat({ workerId: this.workerId, entries, leaseMs: this.leaseMs, now: this.clock.now() });
  }

  private notifyIdle(): void {
    if (!this.idle) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
    this.onIdle();
  }
}
