import type { Execution } from "./execution.js";

/**
 * The attempts running in this worker, in start order: a list linked through
 * the executions themselves. Not a `Map` by job id: a map whose entries come
 * and go once per job keeps short-lived executions reachable from its old
 * backing stores, so V8 promotes nearly every one of them to the old
 * generation (measured: ~350 bytes per job, a full heap's worth on a million
 * jobs). Lookups by id are for cancels and lost leases, which are rare; they
 * scan the running attempts, at most the concurrency.
 */
export class ActiveExecutions implements Iterable<Execution> {
  private head: Execution | null = null;
  private tail: Execution | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The attempt that started first among those running; null if none runs. */
  get oldest(): Execution | null {
    return this.head;
  }

  add(exec: Execution): void {
    if (exec.listed) return;
    exec.listed = true;
    exec.prevActive = this.tail;
    exec.nextActive = null;
    if (this.tail === null) this.head = exec;
    else this.tail.nextActive = exec;
    this.tail = exec;
    this.count++;
  }

  delete(exec: Execution): void {
    if (!exec.listed) return;
    exec.listed = false;
    const { prevActive: prev, nextActive: next } = exec;
    if (prev === null) this.head = next;
    else prev.nextActive = next;
    if (next === null) this.tail = prev;
    else next.prevActive = prev;
    exec.prevActive = null;
    exec.nextActive = null;
    this.count--;
  }

  /** The running attempt of job `id`, if any. */
  get(id: string): Execution | undefined {
    for (let e = this.head; e !== null; e = e.nextActive) if (e.job.id === id) return e;
    return undefined;
  }

  /** The running attempts of these jobs, in one pass. */
  findAll(ids: readonly string[]): Execution[] {
    if (ids.length === 0 || this.count === 0) return [];
    if (ids.length === 1) {
      const e = this.get(ids[0]!);
      return e ? [e] : [];
    }
    const wanted = new Set(ids);
    const found: Execution[] = [];
    for (let e = this.head; e !== null; e = e.nextActive) if (wanted.has(e.job.id)) found.push(e);
    return found;
  }

  /** A copy, safe to use while attempts finish. */
  toArray(): Execution[] {
    const out: Execution[] = [];
    for (let e = this.head; e !== null; e = e.nextActive) out.push(e);
    return out;
  }

  *[Symbol.iterator](): Iterator<Execution> {
    for (let e = this.head; e !== null;) {
      const next = e.nextActive; // e may leave the list while the caller holds it
      yield e;
      e = next;
    }
  }
}
