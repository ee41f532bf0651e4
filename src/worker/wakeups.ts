import type { Clock, TimerHandle } from "../core/clock.js";

/** The worker as its timers see it. */
export interface Pumped {
  readonly isRunning: boolean;
  schedulePump(): void;
}

/**
 * The timers that wake the claim loop: one for the earliest time known work
 * becomes runnable (a delayed job, a rate limit, a retry, a failed claim),
 * and the polling backstop. Each only schedules a pump.
 */
export class Wakeups {
  private wakeTimer: TimerHandle | null = null;
  private wakeAt: number | null = null;
  private pollTimer: TimerHandle | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly worker: Pumped,
  ) {}

  /** Pumps at `at`, unless a pump is already due by then. */
  at(at: number): void {
    if (!this.worker.isRunning) return;
    if (this.wakeTimer !== null && this.wakeAt !== null && this.wakeAt <= at) return;
    this.clearWake();
    this.wakeAt = at;
    this.wakeTimer = this.clock.setTimeout(
      () => {
        this.wakeTimer = null;
        this.wakeAt = null;
        this.worker.schedulePump();
      },
      Math.max(0, at - this.clock.now()),
    );
  }

  /** Pumps every `every` ms while the worker runs. */
  poll(every: number): void {
    this.pollTimer = this.clock.setTimeout(() => {
      this.worker.schedulePump();
      if (this.worker.isRunning) this.poll(every);
    }, every);
  }

  stop(): void {
    this.clearWake();
    if (this.pollTimer !== null) this.clock.clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  private clearWake(): void {
    if (this.wakeTimer !== null) this.clock.clearTimeout(this.wakeTimer);
    this.wakeTimer = null;
    this.wakeAt = null;
  }
}
