/**
 * A log-bucketed histogram: O(1) record, O(buckets) quantile, fixed memory.
 * Buckets grow by ~5%, so a quantile is within 5% of the true value.
 */
const GROWTH = Math.log(1.05);
const BUCKETS = 600; // 1.05^600 ms ≈ 5e12 ms: covers any duration

export class Histogram {
  private readonly counts = new Uint32Array(BUCKETS + 1);
  private total = 0;

  record(valueMs: number): void {
    const v = valueMs < 1 ? 0 : Math.min(BUCKETS, 1 + Math.floor(Math.log(valueMs) / GROWTH));
    this.counts[v] = (this.counts[v] ?? 0) + 1;
    this.total++;
  }

  get count(): number {
    return this.total;
  }

  /** The q-quantile (0..1) in ms, or null when empty; reported as the bucket's upper bound. */
  quantile(q: number, other?: Histogram): number | null {
    const total = this.total + (other?.total ?? 0);
    if (total === 0) return null;
    const rank = Math.max(1, Math.ceil(q * total));
    let seen = 0;
    for (let i = 0; i <= BUCKETS; i++) {
      seen += (this.counts[i] ?? 0) + (other?.counts[i] ?? 0);
      if (seen >= rank) return i === 0 ? 1 : Math.round(Math.exp(i * GROWTH) * 100) / 100;
    }
    return null;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
  }
}

/**
 * Quantiles over roughly the last one to two windows: two histograms rotate,
 * so old behaviour ages out without storing samples.
 */
export class WindowedHistogram {
  private current = new Histogram();
  private previous = new Histogram();
  private rotatedAt: number;

  constructor(
    private readonly windowMs: number,
    now: number,
  ) {
    this.rotatedAt = now;
  }

  record(valueMs: number, now: number): void {
    this.rotate(now);
    this.current.record(valueMs);
  }

  quantile(q: number, now: number): number | null {
    this.rotate(now);
    return this.current.quantile(q, this.previous);
  }

  private rotate(now: number): void {
    if (now - this.rotatedAt < this.windowMs) return;
    const stale = now - this.rotatedAt >= 2 * this.windowMs;
    [this.previous, this.current] = [this.current, this.previous];
    this.current.reset();
    if (stale) this.previous.reset();
    this.rotatedAt = now;
  }
}
