import type { Clock, TimerHandle } from "./core/clock.js";
import { AbortedError, NotRunningError, type QueueFullError } from "./core/errors.js";

/**
 * Submitters waiting for room in a full queue (`ifFull: "wait"`). They are
 * woken when jobs start, finish or are cancelled, then retry their enqueue;
 * nothing spins. On stores shared with other processes (which drain the
 * queue too) a backstop timer wakes them as well.
 */
export class CapacityGate {
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly clock: Clock,
    private readonly backstopMs: number | null,
    private readonly isClosed: () => boolean,
  ) {}

  /**
   * Resolves when room may have appeared. Rejects with `last` once `deadline`
   * passes, AbortedError when `signal` aborts, NotRunningError when the queue stops.
   */
  wait(deadline: number | null, signal: AbortSignal | undefined, last: QueueFullError): Promise<void> {
    if (signal?.aborted) return Promise.reject(new AbortedError("submit aborted while waiting for queue capacity"));
    const remaining = deadline === null ? null : deadline - this.clock.now();
    if (remaining !== null && remaining <= 0) return Promise.reject(last);
    return new Promise<void>((resolve, reject) => {
      let timer: TimerHandle | null = null;
      const cleanup = () => {
        this.waiters.delete(wake);
        if (timer) this.clock.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const wake = () => {
        cleanup();
        if (this.isClosed()) reject(new NotRunningError());
        else resolve();
      };
      const onAbort = () => {
        cleanup();
        reject(new AbortedError("submit aborted while waiting for queue capacity"));
      };
      const waitMs =
        remaining === null
          ? this.backstopMs
          : this.backstopMs === null
            ? remaining
            : Math.min(remaining, this.backstopMs);
      if (waitMs !== null) {
        timer = this.clock.setTimeout(() => {
          if (deadline !== null && this.clock.now() >= deadline) {
            cleanup();
            reject(last);
          } else wake();
        }, waitMs);
      }
      this.waiters.add(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Lets every waiter retry. */
  wake(): void {
    // called after every write that finishes jobs: nothing to copy when nobody waits
    if (this.waiters.size === 0) return;
    for (const wake of [...this.waiters]) wake();
  }
}
