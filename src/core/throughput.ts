/** Events per second over a sliding minute, from 60 one-second buckets: O(1) per event. */
export class ThroughputMeter {
  private readonly buckets = new Float64Array(60);
  private readonly seconds = new Float64Array(60);
  private readonly startedAt: number;

  constructor(now: number) {
    this.startedAt = now;
  }

  mark(now: number, n = 1): void {
    const second = Math.floor(now / 1000);
    const i = second % 60;
    if (this.seconds[i] !== second) {
      this.seconds[i] = second;
      this.buckets[i] = 0;
    }
    this.buckets[i] = (this.buckets[i] ?? 0) + n;
  }

  /** Average per second over the last minute (or since start, if shorter). */
  perSecond(now: number): number {
    const second = Math.floor(now / 1000);
    let sum = 0;
    for (let i = 0; i < 60; i++) {
      if (second - (this.seconds[i] ?? 0) < 60) sum += this.buckets[i] ?? 0;
    }
    const spanS = Math.min(60, Math.max(1, (now - this.startedAt) / 1000));
    return Math.round((sum / spanS) * 100) / 100;
  }
}
