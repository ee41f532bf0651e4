import type { Clock } from "../core/clock.js";
import { JobCancelledError } from "../core/errors.js";
import type { TypedEmitter } from "../core/events.js";
import { debugEnabled, type Logger } from "../core/logger.js";
import type { StatsRecorder } from "../core/stats.js";
import type { Outcome, SettleResult, Store } from "../store/port.js";
import type { Execution } from "./execution.js";

/**
 * Turns written outcomes into what users observe: counters, structured logs
 * and events. Only outcomes the store applied count; a refused one (the
 * lease was lost) is logged and nothing else.
 */
export class OutcomeReporter {
  constructor(
    private readonly deps: { emitter: TypedEmitter; stats: StatsRecorder; logger: Logger; clock: Clock; store: Store },
  ) {}

  /** Reports a batch; returns the runAt of each retry, for the worker to wake up then. */
  report(execs: Execution[], results: SettleResult[]): number[] {
    const { emitter, stats, logger, clock } = this.deps;
    const now = clock.now();
    const debug = debugEnabled(logger);
    const retries: number[] = [];
    for (let i = 0; i < execs.length; i++) {
      const exec = execs[i]!;
      const outcome = exec.outcome!;
      const result = results[i]!;
      const { id, name, attempt } = exec.job;
      if (!result.applied) {
        logger.warn({ jobId: id, name, attempt, state: result.state }, "outcome refused: the lease was lost");
        continue;
      }
      const runMs = now - exec.startedAt;
      switch (result.state) {
        case "completed": {
          stats.finished("completed", runMs, now);
          if (debug) logger.debug({ jobId: id, name, attempt, runMs }, "job completed");
          if (emitter.has("completed")) {
            const value = outcome.kind === "completed" ? (JSON.parse(outcome.resultJson) as unknown) : undefined;
            emitter.emit("completed", { id, name, attempt, result: value, runMs });
          }
          break;
        }
        case "failed": {
          stats.finished("failed", runMs, now);
          const error = outcome.kind === "failed" || outcome.kind === "retry" ? outcome.error : undefined;
          logger.error({ jobId: id, name, attempt, err: error }, "job failed");
          if (error) emitter.emit("failed", { id, name, attempt, error });
          break;
        }
        case "queued": {
          stats.totals.retried++;
          if (outcome.kind === "retry") {
            logger.warn({ jobId: id, name, attempt, err: outcome.error, runAt: outcome.runAt }, "job failed; retrying");
            emitter.emit("retrying", { id, name, attempt, error: outcome.error, runAt: outcome.runAt });
            retries.push(outcome.runAt);
          }
          break;
        }
        case "cancelled": {
          stats.finished("cancelled", runMs, now);
          void this.reportCancelled(exec, outcome);
          break;
        }
        default:
          break;
      }
    }
    return retries;
  }

  /** The reason given to cancel() lives in the store (the cancel may have come from another process). */
  private async reportCancelled(exec: Execution, outcome: Outcome): Promise<void> {
    const { id, name, attempt } = exec.job;
    let reason =
      outcome.kind === "cancelled" && !(exec.abortReason instanceof JobCancelledError) ? outcome.reason : null;
    if (reason === null) {
      const job = await this.deps.store.get(id).catch(() => null);
      reason = job?.cancelReason ?? "cancelled";
    }
    this.deps.logger.info({ jobId: id, name, attempt, reason }, "job cancelled");
    this.deps.emitter.emit("cancelled", { id, name, reason });
  }
}
