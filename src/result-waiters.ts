import type { Clock, TimerHandle } from "./core/clock.js";
import { JobCancelledError, JobFailedError, WaitTimeoutError } from "./core/errors.js";
import type { Job } from "./core/job.js";
import { isTerminal, type JobState } from "./core/states.js";

interface Waiter {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: TimerHandle | null;
  lastState: JobState;
}

/**
 * Callers awaiting results, by job id. A waiter is answered when the store
 * reports the job finished; nothing polls, and only a waiter with a timeout
 * has a timer.
 */
export class ResultWaiters {
  private readonly byId = new Map<string, Set<Waiter>>();

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.byId.size;
  }

  /** Ids with waiters (to re-read after missed notifications). */
  ids(): string[] {
    return [...this.byId.keys()];
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  wait(id: string, timeoutMs: number | null): { promise: Promise<unknown>; waiter: Waiter } {
    let waiter!: Waiter;
    const promise = new Promise<unknown>((resolve, reject) => {
      waiter = { resolve, reject, timer: null, lastState: "queued" };
    });
    let set = this.byId.get(id);
    if (!set) {
      set = new Set();
      this.byId.set(id, set);
    }
    set.add(waiter);
    if (timeoutMs !== null) {
      waiter.timer = this.clock.setTimeout(() => {
        this.remove(id, waiter);
        waiter.reject(new WaitTimeoutError(id, timeoutMs, waiter.lastState));
      }, timeoutMs);
    }
    return { promise, waiter };
  }

  /** Answers this job's waiters if it is terminal; otherwise notes its state. */
  deliver(job: Job): void {
    const set = this.byId.get(job.id);
    if (!set) return;
    if (!isTerminal(job.state)) {
      for (const w of set) w.lastState = job.state;
      return;
    }
    this.byId.delete(job.id);
    const settle = outcomeOf(job);
    for (const w of set) {
      if (w.timer !== null) this.clock.clearTimeout(w.timer);
      settle(w);
    }
  }

  rejectOne(id: string, waiter: Waiter, error: unknown): void {
    this.remove(id, waiter);
    waiter.reject(error);
  }

  rejectAll(error: unknown): void {
    for (const [id, set] of this.byId) {
      this.byId.delete(id);
      for (const w of set) {
        if (w.timer !== null) this.clock.clearTimeout(w.timer);
        w.reject(error);
      }
    }
  }

  private remove(id: string, waiter: Waiter): void {
    const set = this.byId.get(id);
    if (!set) return;
    set.delete(waiter);
    if (waiter.timer !== null) this.clock.clearTimeout(waiter.timer);
    if (set.size === 0) this.byId.delete(id);
  }
}

function outcomeOf(job: Job): (w: Waiter) => void {
  switch (job.state) {
    case "completed":
      return (w) => w.resolve(job.result);
    case "cancelled":
      return (w) => w.reject(new JobCancelledError(job.id, job.cancelReason ?? "cancelled"));
    default:
      return (w) => w.reject(new JobFailedError(job.id, job.attempt, job.error));
  }
}
