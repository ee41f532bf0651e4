import type { Quantiles, StatsRecorder, Totals } from "./core/stats.js";
import type { StoreCounts } from "./store/port.js";

export interface Stats {
  /** Jobs per state in the store. */
  counts: StoreCounts;
  running: number;
  capacity: number;
  /** running / capacity, 0..1 (slots held by zombie handlers count as running). */
  utilization: number;
  totals: Totals;
  /** Jobs completed per second over the last minute. */
  throughputPerSecond: number;
  queueWaitMs: Quantiles;
  runTimeMs: Quantiles;
}

/** stats(): the store's counts beside this process's slots and recorded figures. */
export function statsSnapshot(
  counts: StoreCounts,
  running: number,
  capacity: number,
  recorder: StatsRecorder,
  now: number,
): Stats {
  return {
    counts,
    running,
    capacity,
    utilization: capacity === Infinity ? 0 : running / capacity,
    totals: { ...recorder.totals },
    throughputPerSecond: recorder.completedPerSecond(now),
    queueWaitMs: recorder.queueWaitMs(now),
    runTimeMs: recorder.runTimeMs(now),
  };
}
