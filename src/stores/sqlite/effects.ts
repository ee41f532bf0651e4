import type { JobState } from "../../core/states.js";
import type { Statements } from "./statements.js";

const STATE_INDEX: Record<JobState, number> = { queued: 0, running: 1, completed: 2, failed: 3, cancelled: 4 };
const STATES: readonly JobState[] = ["queued", "running", "completed", "failed", "cancelled"];

/** What one write transaction changed, applied before commit and announced after. */
export class Effects {
  readonly delta = [0, 0, 0, 0, 0];
  readonly finished: string[] = [];
  readonly cancelRequested: string[] = [];
  available = false;
  /** Set when jobs finished: retention is applied at this time before commit. */
  trimAt: number | null = null;

  move(from: JobState | null, to: JobState | null): void {
    if (from !== null) this.delta[STATE_INDEX[from]]!--;
    if (to !== null) this.delta[STATE_INDEX[to]]!++;
  }

  /** Moves n jobs at once (a claim leases them in one statement). */
  moveMany(from: JobState, to: JobState, n: number): void {
    this.delta[STATE_INDEX[from]]! -= n;
    this.delta[STATE_INDEX[to]]! += n;
  }

  /** Finished jobs added (or, if negative, removed) by this transaction so far. */
  finishedDelta(): number {
    return this.delta[STATE_INDEX.completed]! + this.delta[STATE_INDEX.failed]! + this.delta[STATE_INDEX.cancelled]!;
  }
}

/** Writes the count changes into the shared counts table, inside the transaction. */
export function saveCounts(s: Statements, fx: Effects): void {
  for (let i = 0; i < STATES.length; i++) {
    const d = fx.delta[i]!;
    if (d !== 0) s.addCount.run(d, STATES[i]!);
  }
}
