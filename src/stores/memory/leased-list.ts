import type { MemoryRecord } from "./record.js";

/**
 * Leased (running) jobs in lease order, linked through the records: nothing
 * allocated per lease, and a job leaves the list in O(1) wherever it is (jobs
 * finish in any order). Rescue walks it from the oldest lease for expired ones.
 */
export class LeasedList {
  private head: MemoryRecord | null = null;
  private tail: MemoryRecord | null = null;

  /** The job leased longest ago, or null; follow `leaseNext` for the rest. */
  get first(): MemoryRecord | null {
    return this.head;
  }

  append(rec: MemoryRecord): void {
    rec.leasePrev = this.tail;
    if (this.tail === null) this.head = rec;
    else this.tail.leaseNext = rec;
    this.tail = rec;
  }

  remove(rec: MemoryRecord): void {
    const { leasePrev: prev, leaseNext: next } = rec;
    if (prev === null) this.head = next;
    else prev.leaseNext = next;
    if (next === null) this.tail = prev;
    else next.leasePrev = prev;
    rec.leasePrev = null;
    rec.leaseNext = null;
  }
}
