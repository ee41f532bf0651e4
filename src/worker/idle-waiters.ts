import type { Clock } from "../core/clock.js";

/**
 * Callers of stop() waiting, each up to its own timeout, for the worker to
 * have nothing running and no outcome unwritten. The worker decides when
 * that is and calls notify().
 */
export class IdleWaiters {
  private waiters: (() => void)[] = [];

  constructor(private readonly clock: Clock) {}

  /** Resolves at the next notify(), or after `timeoutMs`. */
  wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.clock.clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      const timer = this.clock.setTimeout(done, timeoutMs);
      this.waiters.push(done);
    });
  }

  notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Waits for `promise`, but no longer than `ms` (real time: the store may be unreachable). */
export async function withDeadline(promise: Promise<unknown>, ms: number): Promise<void> {
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
