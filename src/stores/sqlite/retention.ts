import type { Retention } from "../../store/port.js";
import type { Effects } from "./effects.js";
import type { Statements } from "./statements.js";

export const DEFAULT_RETENTION: Retention = { maxAgeMs: 24 * 3600_000, maxCount: 10_000 };
/** Finished jobs removed per transaction: inline after a settle, and per batch in prune(). */
export const TRIM_BATCH = 1000;

/**
 * Drops finished jobs beyond the retention count or age, oldest first, at
 * most `max`, inside the caller's transaction (fx carries the count changes).
 */
export function trimFinished(s: Statements, retention: Retention, now: number, max: number, fx: Effects): number {
  const { maxCount, maxAgeMs } = retention;
  let removed = 0;
  const finished = (s.finishedCount.get() ?? 0) + fx.finishedDelta();
  const excess = Math.min(finished - maxCount, max);
  if (excess > 0) {
    const rows = s.dropOldest.all(Math.ceil(excess));
    for (const r of rows) fx.move(r.state, null);
    removed += rows.length;
  }
  if (removed < max && Number.isFinite(maxAgeMs)) {
    const rows = s.dropOlderThan.all(now - maxAgeMs, max - removed);
    for (const r of rows) fx.move(r.state, null);
    removed += rows.length;
  }
  return removed;
}
