import { Fifo } from "../../core/fifo.js";
import type { Retention, StoreCounts } from "../../store/port.js";
import type { MemoryRecord } from "./record.js";
import type { RecordTable } from "./record-table.js";

export const DEFAULT_RETENTION: Retention = { maxAgeMs: 24 * 3600_000, maxCount: 10_000 };

/**
 * Finished jobs in the order they finished, so retention forgets the oldest
 * first without a search: from the table, the key index and the counts.
 */
export class FinishedJobs {
  retention: Retention = DEFAULT_RETENTION;
  private readonly fifo = new Fifo<MemoryRecord>();

  constructor(
    private readonly jobs: RecordTable,
    private readonly keys: Map<string, MemoryRecord>,
    private readonly counts: StoreCounts,
  ) {}

  /** Keeps a job that just finished, and forgets those it pushes past the retention. */
  add(rec: MemoryRecord, now: number): void {
    this.fifo.push(rec);
    this.trim(now);
  }

  /** Drops finished jobs beyond the retention count or age, oldest first. */
  trim(now: number): number {
    let removed = 0;
    const { maxCount, maxAgeMs } = this.retention;
    for (let oldest = this.fifo.peek(); oldest !== undefined; oldest = this.fifo.peek()) {
      const tooMany = this.fifo.size > maxCount;
      const tooOld = now - (oldest.finishedAt ?? now) > maxAgeMs;
      if (!tooMany && !tooOld) break;
      this.fifo.shift();
      this.jobs.delete(oldest.seq);
      if (oldest.key !== null && this.keys.get(oldest.key) === oldest) this.keys.delete(oldest.key);
      this.counts[oldest.state]--;
      oldest.recycle();
      removed++;
    }
    return removed;
  }
}
