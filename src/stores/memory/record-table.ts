import type { MemoryRecord } from "./record.js";

const PAGE_SIZE = 256;
/** A closed page with this few records left hands them to the loose map and goes away. */
const SPARSE = 16;

interface Page {
  readonly slots: (MemoryRecord | undefined)[];
  live: number;
}

/**
 * The memory store's records by seq. Seqs are handed out in increasing order,
 * so records sit in pages of 256 slots found by arithmetic: no hashing per
 * job, and jobs submitted together are neighbours in memory (a Map of a
 * million entries costs a cache miss or two per get, set and delete, and
 * ~30-60 bytes per entry; a full page costs 8). A page is dropped when its
 * last record is; the few records left in a mostly empty page (long or
 * delayed jobs among short ones) move to a Map, so they cannot pin pages.
 */
export class RecordTable {
  /** Page number → page; created in increasing page order, never re-created. */
  private readonly pages = new Map<number, Page>();
  /** Records whose page was dropped. */
  private readonly loose = new Map<number, MemoryRecord>();
  /** Highest page number ever created (-1: none). */
  private lastPage = -1;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(seq: number): MemoryRecord | undefined {
    const r = seq % PAGE_SIZE;
    const page = this.pages.get((seq - r) / PAGE_SIZE);
    if (page !== undefined) return page.slots[r];
    return this.loose.size === 0 ? undefined : this.loose.get(seq);
  }

  /** Adds a record under its seq (each seq once: the store never reuses one). */
  add(rec: MemoryRecord): void {
    const seq = rec.seq;
    const r = seq % PAGE_SIZE;
    const n = (seq - r) / PAGE_SIZE;
    let page = this.pages.get(n);
    if (page === undefined) {
      if (n <= this.lastPage) {
        // its page was dropped already (only possible if seqs came out of order)
        if (!this.loose.has(seq)) this.count++;
        this.loose.set(seq, rec);
        return;
      }
      page = { slots: new Array<MemoryRecord | undefined>(PAGE_SIZE), live: 0 };
      this.pages.set(n, page);
      this.lastPage = n;
    }
    if (page.slots[r] === undefined) {
      page.live++;
      this.count++;
    }
    page.slots[r] = rec;
  }

  delete(seq: number): boolean {
    const r = seq % PAGE_SIZE;
    const n = (seq - r) / PAGE_SIZE;
    const page = this.pages.get(n);
    if (page === undefined) {
      if (!this.loose.delete(seq)) return false;
      this.count--;
      return true;
    }
    if (page.slots[r] === undefined) return false;
    page.slots[r] = undefined;
    page.live--;
    this.count--;
    if (page.live === 0) {
      this.pages.delete(n);
    } else if (page.live <= SPARSE && n < this.lastPage) {
      // a closed page (no new seq can land in it) that is mostly empty
      for (const rec of page.slots) if (rec !== undefined) this.loose.set(rec.seq, rec);
      this.pages.delete(n);
    }
    return true;
  }

  /** Every record, newest (highest seq) first. */
  *newestFirst(): Generator<MemoryRecord> {
    const loose = [...this.loose.values()].sort((a, b) => b.seq - a.seq);
    let l = 0;
    const pageNumbers = [...this.pages.keys()]; // ascending: pages are created in order
    for (let p = pageNumbers.length - 1; p >= 0; p--) {
      const slots = this.pages.get(pageNumbers[p]!)!.slots;
      for (let i = PAGE_SIZE - 1; i >= 0; i--) {
        const rec = slots[i];
        if (rec === undefined) continue;
        while (l < loose.length && loose[l]!.seq > rec.seq) yield loose[l++]!;
        yield rec;
      }
    }
    while (l < loose.length) yield loose[l++]!;
  }
}
