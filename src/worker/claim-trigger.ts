import type { Logger } from "../core/logger.js";

/** What a ClaimTrigger drives. */
export interface Claimer {
  readonly isRunning: boolean;
  /** One claim for the free slots; resolves once its jobs are started or buffered. */
  claimOnce(): Promise<unknown>;
  /** A freed slot led to no claim: the claimer reports whether it is idle. */
  idleWithoutClaim(): void;
}

/**
 * Decides when the worker claims: on the next event-loop turn after a sign
 * of new work or a freed slot (gathering every slot freed in one turn, a
 * timer phase that ends a wave of jobs say, into one claim), one claim at a
 * time, and never for a freed slot when the store had nothing more to give.
 */
export class ClaimTrigger {
  private scheduled = false;
  /** The claim in flight, if any: stop() waits for it so no claimed job is left leased. */
  private inFlight: Promise<void> | null = null;
  private again = false;
  /** Counts the signs that new work may be runnable (notifications, timers, start, new handlers). */
  private signals = 0;
  /**
   * The last claim came back short, nothing held back by this worker's own
   * limits and no sign of new work since it began: the store had nothing
   * runnable for us, so a slot freed by a finished job is no reason to ask
   * again. The next sign of new work clears it. Without it every finished
   * job cost a claim or two that found nothing (nearly 3 statements per job
   * where 1 is needed, measured on PostgreSQL at 200 jobs/s).
   */
  private storeDrained = false;

  constructor(
    private readonly claimer: Claimer,
    private readonly logger: Logger,
    /**
     * Before each claim: a write to wait for first, if any (with a store that
     * needs no I/O the worker writes finished outcomes before it claims, so
     * the claim sees the slots they free); null for none.
     */
    private readonly writeFirst: () => Promise<void> | null,
  ) {}

  /** The claim in flight, if any. */
  get claiming(): Promise<void> | null {
    return this.inFlight;
  }

  /** New work may be runnable (a notification, a timer, a new handler): claim. */
  newWork(): void {
    this.signals++;
    this.storeDrained = false;
    this.request();
  }

  /** A slot freed: claim again unless the store had nothing for us. */
  slotFreed(): void {
    if (!this.storeDrained) this.request();
    // the empty claim that would have followed reported the idle queue
    else this.claimer.idleWithoutClaim();
  }

  /** Claims on the next turn (once, however often asked before then). */
  request(): void {
    if (!this.claimer.isRunning || this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.onTurn);
  }

  /** A claim begins: returns what `claimed` needs to know whether new work was announced meanwhile. */
  begin(): number {
    return this.signals;
  }

  /** A claim returned: `short` if it got fewer jobs than it asked for and nothing held it back here. */
  claimed(begun: number, short: boolean): void {
    this.storeDrained = short && this.signals === begun;
  }

  /** A claim failed: the store's state is unknown. */
  failed(): void {
    this.storeDrained = false;
  }

  private readonly onTurn = (): void => {
    this.scheduled = false;
    // a write that keeps failing holds claims back, which is right: outcomes could not be stored either
    const writing = this.writeFirst();
    if (writing) {
      void writing.then(() => this.request());
      return;
    }
    void this.run();
  };

  private async run(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = this.claimer.claimOnce().then(
      () => undefined,
      (err: unknown) => this.logger.error({ err }, "claim loop failed"),
    );
    try {
      await this.inFlight;
    } finally {
      this.inFlight = null;
      if (this.again) {
        this.again = false;
        this.request();
      }
    }
  }
}
