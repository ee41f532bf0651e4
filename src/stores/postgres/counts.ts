import type { JobState } from "../../core/states.js";
import type { StoreCounts } from "../../store/port.js";
import type { Connections } from "./connection.js";
import { num } from "./convert.js";
import type { Sql } from "./sql.js";

/** Write statements between two compactions of the count deltas (rescue and prune compact too). */
const COMPACT_EVERY = 500;

/**
 * Counts per state come from trigger-maintained deltas; this reads them and
 * folds the deltas into the counters now and then, so the delta table stays small.
 */
export class Counts {
  /** Write statements since counts were last compacted by this instance. */
  private writes = 0;

  constructor(
    private readonly db: Connections,
    private readonly sql: Sql,
    private readonly schema: string,
  ) {}

  async read(): Promise<StoreCounts> {
    const rows = await this.db.run<{ state: JobState; n: number }>("counts", this.sql.counts, [], true);
    const out: StoreCounts = { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const r of rows) if (r.state in out) out[r.state] = num(r.n);
    return out;
  }

  /** Notes a write; every COMPACT_EVERY writes, folds the count deltas in the background. */
  wrote(): void {
    if (++this.writes < COMPACT_EVERY) return;
    void this.compact();
  }

  /** Folds count deltas into the counters (cheap; best effort). */
  async compact(): Promise<void> {
    this.writes = 0;
    try {
      await this.db.run("counts", this.sql.compactCounts, [`optiq.counts:${this.schema}`], false);
    } catch {
      // compaction only bounds the delta table; counts stay exact without it
    }
  }
}
