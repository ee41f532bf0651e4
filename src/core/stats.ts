import { WindowedHistogram } from "./histogram.js";
import { ThroughputMeter } from "./throughput.js";

export interface Totals {
  submitted: number;
  started: number;
  completed: number;
  failed: number;
  retried: number;
  cancelled: number;
  /** Submissions refused: invalid, queue full, or the queue was stopped. */
  rejected: number;
}

export interface Quantiles {
  p50: number | null;
  p95: number | null;
}

const WINDOW_MS = 60_000;

/** This process's counters: every update O(1), no per-job storage. */
export class StatsRecorder {
  readonly totals: Totals = {
    submitted: 0,
    started: 0,
    completed: 0,
    failed: 0,
    retried: 0,
    cancelled: 0,
    rejected: 0,
  };
  private readonly queueWait: WindowedHistogram;
  private readonly runTime: WindowedHistogram;
  private readonly throughput: ThroughputMeter;
  lastStartAt: number | null = null;

  constructor(now: number) {
    this.queueWait = new WindowedHistogram(WINDOW_MS, now);
    this.runTime = new WindowedHistogram(WINDOW_MS, now);
    this.throughput = new ThroughputMeter(now);
  }

  started(queueWaitMs: number, now: number): void {
    this.totals.started++;
    this.lastStartAt = now;
    this.queueWait.record(Math.max(0, queueWaitMs), now);
  }

  finished(kind: "completed" | "failed" | "cancelled", runMs: number | null, now: number): void {
    this.totals[kind]++;
    if (runMs !== null) this.runTime.record(Math.max(0, runMs), now);
    if (kind === "completed") this.throughput.mark(now);
  }

  queueWaitMs(now: number): Quantiles {
    return { p50: this.queueWait.quantile(0.5, now), p95: this.queueWait.quantile(0.95, now) };
  }

  runTimeMs(now: number): Quantiles {
    return { p50: this.runTime.quantile(0.5, now), p95: this.runTime.quantile(0.95, now) };
  }

  completedPerSecond(now: number): number {
    return this.throughput.perSecond(now);
  }
}
