import type { Clock } from "../core/clock.js";
import { ShutdownError, type OptiqError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { Outcome } from "../store/port.js";
import type { Execution } from "./execution.js";
import { outcomeOfAbort, withNote } from "./outcome.js";

/**
 * Stops attempts: fires their signal, and gives the handler a grace period to
 * honour it. If the handler has not settled by then, the attempt is settled
 * anyway (so callers get an answer) and the handler becomes a zombie that
 * keeps its slot until it returns.
 */
export class AbortControl {
  /** Finalized attempts whose handler ignored its abort and is still running. */
  readonly zombies = new Set<Execution>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly workerId: string,
    /** The worker's finalize: hands an outcome to be written (null: the lease is lost, nothing to write). */
    private readonly finalize: (exec: Execution, outcome: Outcome | null) => void,
  ) {}

  abort(exec: Execution, reason: OptiqError, graceMs = exec.def.abortGraceMs): void {
    if (exec.finalized) return;
    const first = exec.abort(reason);
    if (first) {
      this.clearTimer(exec, "timeoutTimer");
      this.logger.info({ jobId: exec.job.id, name: exec.job.name, reason: reason.code }, "aborting job");
    }
    const settleNow = () => {
      if (exec.handlerSettled || exec.finalized) return;
      this.zombies.add(exec);
      this.logger.warn(
        { jobId: exec.job.id, name: exec.job.name, graceMs },
        "handler did not stop after its abort signal; settling the job, the slot stays held until it returns",
      );
      const outcome = outcomeOfAbort(exec, exec.abortReason ?? reason, this.clock.now());
      const note = `the handler ignored its abort signal for ${graceMs} ms and may still be running on ${this.workerId}`;
      this.finalize(exec, outcome && withNote(outcome, note));
    };
    if (graceMs <= 0) {
      this.clearTimer(exec, "graceTimer");
      settleNow();
    } else if (first) {
      exec.graceTimer = this.clock.setTimeout(settleNow, graceMs);
    }
  }

  /**
   * Aborts these attempts for shutdown, each with its own grace period or
   * `graceMs`; returns the longest of their own grace periods.
   */
  abortForShutdown(execs: Execution[], graceMs?: number): number {
    let longest = 0;
    for (const exec of execs) {
      longest = Math.max(longest, exec.def.abortGraceMs);
      this.abort(exec, new ShutdownError(), graceMs);
    }
    return longest;
  }

  /** The attempt is finalized: neither its timeout nor its grace period may fire any more. */
  clearTimers(exec: Execution): void {
    this.clearTimer(exec, "timeoutTimer");
    this.clearTimer(exec, "graceTimer");
  }

  /** At stop: says which handlers outlive the worker. */
  warnOfZombies(): void {
    if (this.zombies.size > 0) {
      this.logger.warn(
        { jobs: [...this.zombies].map((e) => e.job.id) },
        "stopped with handlers that ignored their abort signal still running",
      );
    }
  }

  private clearTimer(exec: Execution, field: "timeoutTimer" | "graceTimer"): void {
    const t = exec[field];
    if (t !== null) this.clock.clearTimeout(t);
    exec[field] = null;
  }
}
