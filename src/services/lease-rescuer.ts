import type { Clock } from "../core/clock.js";
import type { Logger } from "../core/logger.js";
import type { RescueResult, Store } from "../store/port.js";
import { PeriodicService } from "./periodic-service.js";

const BATCH = 500;

/** Returns jobs whose worker stopped heartbeating to the queue (or fails them when attempts are spent). */
export class LeaseRescuer extends PeriodicService {
  constructor(
    private readonly store: Store,
    clock: Clock,
    logger: Logger,
    intervalMs: number,
  ) {
    super(clock, logger, intervalMs);
  }

  async runOnce(): Promise<RescueResult> {
    const total: RescueResult = { requeued: [], failed: [], cancelled: [] };
    for (;;) {
      const r = await this.store.rescueExpired({ now: this.clock.now(), limit: BATCH });
      total.requeued.push(...r.requeued);
      total.failed.push(...r.failed);
      total.cancelled.push(...r.cancelled);
      if (r.requeued.length + r.failed.length + r.cancelled.length < BATCH) break;
    }
    const n = total.requeued.length + total.failed.length + total.cancelled.length;
    if (n > 0) this.logger.warn({ ...total }, "rescued jobs with expired leases");
    return total;
  }
}
