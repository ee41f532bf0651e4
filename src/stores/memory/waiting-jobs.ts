import { Heap } from "../../core/heap.js";
import { dueBefore, type MemoryRecord } from "./record.js";
import { RunQueue } from "./run-queue.js";

/** Jobs of one (name, group) pair waiting to run, best first. */
export class Lane {
  readonly queue = new RunQueue();

  constructor(
    readonly name: string,
    readonly group: string | null,
  ) {}

  /** The lane's best job still queued; cancelled ones are dropped lazily here. */
  liveHead(): MemoryRecord | undefined {
    let head = this.queue.peek();
    while (head !== undefined && head.state !== "queued") {
      this.queue.pop();
      head = this.queue.peek();
    }
    return head;
  }
}

/**
 * Where queued jobs wait: those due in their lane, the others in one heap by
 * runAt until they are due. A cancelled job is left where it is and dropped
 * when it reaches a head, so cancelling costs no search.
 */
export class WaitingJobs {
  private readonly lanes = new Map<string, Lane>();
  private readonly delayed = new Heap<MemoryRecord>(dueBefore);

  /** Adds a queued job: to its lane if it is due at `now`, else to the delayed heap. */
  add(rec: MemoryRecord, now: number): void {
    if (rec.runAt <= now) this.laneOf(rec).queue.push(rec);
    else this.delayed.push(rec);
  }

  /** Moves the delayed jobs due at `now` to their lanes. */
  promoteDue(now: number): void {
    for (let rec = this.delayed.peek(); rec !== undefined && rec.runAt <= now; rec = this.delayed.peek()) {
      this.delayed.pop();
      if (rec.state === "queued") this.laneOf(rec).queue.push(rec);
    }
  }

  /** The runAt of the earliest delayed job still queued, or null; cancelled ones are dropped lazily here. */
  nextDelayedRunAt(): number | null {
    let head = this.delayed.peek();
    while (head !== undefined && head.state !== "queued") {
      this.delayed.pop();
      head = this.delayed.peek();
    }
    return head?.runAt ?? null;
  }

  /** Every lane ever created, empty ones included. */
  allLanes(): IterableIterator<Lane> {
    return this.lanes.values();
  }

  private laneOf(rec: MemoryRecord): Lane {
    const laneKey = rec.group === null ? rec.name : `${rec.name}\u0000${rec.group}`;
    let lane = this.lanes.get(laneKey);
    if (!lane) {
      lane = new Lane(rec.name, rec.group);
      this.lanes.set(laneKey, lane);
    }
    return lane;
  }
}
