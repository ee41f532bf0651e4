import { SlidingWindowLimiter } from "../../core/rate-limiter.js";
import type { GroupLimits } from "../../store/port.js";

interface GroupState {
  running: number;
  concurrency: number;
  limiter: SlidingWindowLimiter | null;
}

/** The configured groups: their limits, and how many of their jobs run now. */
export class Groups {
  private readonly byName = new Map<string, GroupState>();

  /** Sets the limits of the groups named; the running count survives, a rate window starts empty. */
  configure(groups: ReadonlyMap<string, GroupLimits>): void {
    for (const [name, limits] of groups) {
      const running = this.byName.get(name)?.running ?? 0;
      this.byName.set(name, {
        running,
        concurrency: limits.concurrency ?? Infinity,
        limiter: limits.rateLimit ? new SlidingWindowLimiter(limits.rateLimit) : null,
      });
    }
  }

  /** A job of the group started: it holds a slot and counts in the rate window. */
  started(group: string, now: number): void {
    const g = this.byName.get(group);
    if (g) {
      g.running++;
      g.limiter?.take(now);
    }
  }

  /** A job of the group stopped running: its slot is free (its start stays in the rate window). */
  stopped(group: string): void {
    const g = this.byName.get(group);
    if (g) g.running--;
  }

  /** How many more of the group's jobs may start at `now` (Infinity for a group with no limits). */
  budget(group: string, now: number): number {
    const g = this.byName.get(group);
    let budget = Infinity;
    if (g) {
      budget = g.concurrency - g.running;
      if (g.limiter) budget = Math.min(budget, g.limiter.available(now));
    }
    return budget;
  }

  /** When the group's rate window, full at `now`, lets a job start again; null if it is not full. */
  reopensAt(group: string, now: number): number | null {
    const limiter = this.byName.get(group)?.limiter;
    return limiter && limiter.available(now) === 0 ? limiter.nextAvailableAt(now) : null;
  }
}
