import type { Clock, TimerHandle } from "../core/clock.js";
import type { ClaimedJob } from "../store/port.js";
import type { PrefetchBuffer } from "./prefetch-buffer.js";

/**
 * How long a prefetched job may wait for a slot here before it goes back to
 * the queue. Prefetch aims at about PREFETCH_TARGET_MS of work, sized by a
 * guess of the run time (none at all before the first attempt finishes); a
 * job still waiting after 50 times that means the guess was wrong, and
 * another worker may have a free slot for it.
 */
export const PREFETCH_HOLD_MS = 1000;

/** Hands prefetched jobs back to the queue once they have waited PREFETCH_HOLD_MS. */
export class PrefetchHold {
  private timer: TimerHandle | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly buffer: PrefetchBuffer,
    /** Gives jobs back to the store, unstarted, their attempts undone. */
    private readonly release: (jobs: ClaimedJob[]) => Promise<void>,
  ) {}

  /** The buffer changed: make sure its oldest job is looked at when its time is up. */
  watch(): void {
    const since = this.buffer.oldestSince;
    if (this.timer !== null || since === null) return;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = null;
        const expired = this.buffer.takeHeldSince(this.clock.now() - PREFETCH_HOLD_MS);
        if (expired.length > 0) void this.release(expired);
        this.watch();
      },
      since + PREFETCH_HOLD_MS - this.clock.now(),
    );
  }

  stop(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
