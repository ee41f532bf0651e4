import type { Clock } from "../core/clock.js";
import type { Logger } from "../core/logger.js";
import type { Store } from "../store/port.js";
import { PeriodicService } from "./periodic-service.js";

/** Removes finished jobs past retention, so storage stays bounded. */
export class Cleaner extends PeriodicService {
  constructor(
    private readonly store: Store,
    clock: Clock,
    logger: Logger,
    intervalMs: number,
  ) {
    super(clock, logger, intervalMs);
  }

  async runOnce(): Promise<number> {
    const removed = await this.store.prune(this.clock.now());
    if (removed > 0) this.logger.debug({ removed }, "pruned finished jobs");
    return removed;
  }
}
