/**
 * Allows at most `limit` starts in ANY window of `intervalMs`, as a ring of
 * the last `limit` start times: a start is allowed when the oldest of them is
 * at least `intervalMs` old. A classic refilling token bucket would allow up
 * to 2×limit across a window boundary; the issue asks for the strict bound.
 * O(1) per start, O(limit) memory.
 */
export interface RateLimit {
  /** Starts allowed per interval. */
  limit: number;
  intervalMs: number;
}

export class SlidingWindowLimiter {
  private readonly starts: Float64Array;
  private head = 0;
  private count = 0;

  constructor(readonly spec: RateLimit) {
    this.starts = new Float64Array(spec.limit);
  }

  /** How many starts are allowed at `now`. Amortised O(1): expired entries leave the ring once. */
  available(now: number): number {
    while (this.count > 0 && now - (this.starts[this.head] ?? 0) >= this.spec.intervalMs) {
      this.head = (this.head + 1) % this.spec.limit;
      this.count--;
    }
    return this.spec.limit - this.count;
  }

  /** Records `n` starts at `now`; callers take no more than available(now). */
  take(now: number, n = 1): void {
    for (let k = 0; k < n; k++) {
      if (this.count === this.spec.limit) {
        this.starts[this.head] = now;
        this.head = (this.head + 1) % this.spec.limit;
      } else {
        this.starts[(this.head + this.count) % this.spec.limit] = now;
        this.count++;
      }
    }
  }

  /** Earliest time at which one more start is allowed (≤ now if allowed now). */
  nextAvailableAt(now: number): number {
    if (this.count < this.spec.limit) return now;
    return (this.starts[this.head] ?? now) + this.spec.intervalMs;
  }
}
