import type { Clock, TimerHandle } from "../core/clock.js";
import type { Logger } from "../core/logger.js";

/**
 * The one shape of every background loop: start(), an idempotent stop() that
 * tolerates stop-before-start, and runOnce() that tests call directly. Runs
 * never overlap; the next is scheduled when the previous ends.
 */
export abstract class PeriodicService {
  private timer: TimerHandle | null = null;
  private running: Promise<unknown> | null = null;
  private active = false;

  constructor(
    protected readonly clock: Clock,
    protected readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  abstract runOnce(): Promise<unknown>;

  start(): void {
    if (this.active) return;
    this.active = true;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.active = false;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.running = this.runOnce()
        .catch((err: unknown) => this.logger.error({ err, service: this.constructor.name }, "background run failed"))
        .finally(() => {
          this.running = null;
          if (this.active) this.schedule();
        });
    }, this.intervalMs);
  }
}
