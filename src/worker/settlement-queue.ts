import type { Logger } from "../core/logger.js";
import type { Clock } from "../core/clock.js";
import type { Outcome, SettleResult, Store } from "../store/port.js";
import type { Execution } from "./execution.js";

export interface SettledItem {
  exec: Execution;
  outcome: Outcome;
  result: SettleResult;
}

/**
 * Collects outcomes and writes them in batches: one store call per event-loop
 * turn however many jobs finished in it. Only one write is in flight; outcomes
 * arriving meanwhile form the next batch. A failed write is retried with
 * backoff, never dropped: the guarded update makes a repeat harmless.
 */
export class SettlementQueue {
  private pending: { exec: Execution; outcome: Outcome }[] = [];
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
    private readonly onSettled: (items: SettledItem[]) => void,
    private readonly onIdle: () => void,
  ) {}

  add(exec: Execution, outcome: Outcome): void {
    this.pending.push({ exec, outcome });
    if (!this.scheduled && !this.flushing) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.flush();
      });
    }
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
        const results = await this.store.settle({
          workerId: this.workerId,
          now: this.clock.now(),
          settlements: batch.map(({ exec, outcome }) => ({ id: exec.job.id, attempt: exec.job.attempt, outcome })),
        });
        this.onSettled(batch.map((b, i) => ({ exec: b.exec, outcome: b.outcome, result: results[i]! })));
        return;
      } catch (err) {
        if (this.abandoned) {
          // the worker stopped and gave up on the store: the leases expire and the rescuer re-runs these jobs
          this.logger.error({ err, jobs: batch.map((b) => b.exec.job.id) }, "outcomes not written before stop");
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
  private async saveLastWrites(batch: { exec: Execution }[]): Promise<void> {
    const entries = [];
    for (const { exec } of batch) {
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
