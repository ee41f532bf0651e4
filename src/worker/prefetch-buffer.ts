import type { ClaimedJob } from "../store/port.js";

/**
 * Jobs claimed ahead of free slots, in claim (priority) order. On a store
 * where each claim is a database round trip, the next job then starts the
 * moment a slot frees, and claims come in larger batches. The jobs are leased
 * to this worker (heartbeats cover them); stop() releases them unstarted.
 * Small by construction (at most the prefetch size), so linear scans are fine.
 */
export class PrefetchBuffer {
  private jobs: ClaimedJob[] = [];
  /** When each job was buffered; in the order of `jobs`, so also oldest first. */
  private since: number[] = [];
  private readonly perName = new Map<string, number>();

  get size(): number {
    return this.jobs.length;
  }

  countOf(name: string): number {
    return this.perName.get(name) ?? 0;
  }

  push(job: ClaimedJob, at: number): void {
    this.jobs.push(job);
    this.since.push(at);
    this.perName.set(job.name, this.countOf(job.name) + 1);
  }

  /** Removes and returns the first job that may start now. */
  takeFirst(canStart: (job: ClaimedJob) => boolean): ClaimedJob | undefined {
    const i = this.jobs.findIndex(canStart);
    return i < 0 ? undefined : this.removeAt(i);
  }

  remove(id: string): ClaimedJob | undefined {
    const i = this.jobs.findIndex((j) => j.id === id);
    return i < 0 ? undefined : this.removeAt(i);
  }

  /** When the longest-held job was buffered; null if the buffer is empty. */
  get oldestSince(): number | null {
    return this.since[0] ?? null;
  }

  /** Removes and returns the jobs buffered at or before `cutoff`. */
  takeHeldSince(cutoff: number): ClaimedJob[] {
    let n = 0;
    while (n < this.since.length && this.since[n]! <= cutoff) n++;
    const taken = this.jobs.splice(0, n);
    this.since.splice(0, n);
    for (const job of taken) this.perName.set(job.name, this.countOf(job.name) - 1);
    return taken;
  }

  /** Empties the buffer, returning what it held. */
  drain(): ClaimedJob[] {
    const all = this.jobs;
    this.jobs = [];
    this.since = [];
    this.perName.clear();
    return all;
  }

  [Symbol.iterator](): IterableIterator<ClaimedJob> {
    return this.jobs[Symbol.iterator]();
  }

  private removeAt(i: number): ClaimedJob {
    const [job] = this.jobs.splice(i, 1);
    this.since.splice(i, 1);
    this.perName.set(job!.name, this.countOf(job!.name) - 1);
    return job!;
  }
}
