/** How long the worker may go on in microtasks before it lets the event loop run. */
const CHAIN_BUDGET_MS = 5;

/**
 * Schedules the worker's next claim.
 *
 * With a store that answers without I/O (the memory store) a claim runs in
 * a microtask, so a job that finishes in a timer callback is followed by
 * the next one in the same event-loop phase, like a plain in-process queue
 * does it. Such chains are cut after CHAIN_BUDGET_MS: the claim then waits
 * for setImmediate, so timers and I/O are never starved by a long run of
 * short jobs. With other stores every claim waits for setImmediate, which
 * gathers all slots freed in one turn into one database round trip.
 */
export class StepScheduler {
  private chainStartedAt: number | null = null;

  constructor(private readonly inline: boolean) {}

  schedule(step: () => void): void {
    if (this.inline && this.mayChain()) queueMicrotask(step);
    else setImmediate(step);
  }

  private mayChain(): boolean {
    const now = performance.now();
    if (this.chainStartedAt === null) {
      this.chainStartedAt = now;
      setImmediate(() => (this.chainStartedAt = null));
      return true;
    }
    return now - this.chainStartedAt < CHAIN_BUDGET_MS;
  }
}
