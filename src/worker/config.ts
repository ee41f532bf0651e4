import type { Clock } from "../core/clock.js";
import type { TypedEmitter } from "../core/events.js";
import type { Logger } from "../core/logger.js";
import type { SlidingWindowLimiter } from "../core/rate-limiter.js";
import type { StatsRecorder } from "../core/stats.js";
import type { Store } from "../store/port.js";
import type { ResolvedDefinition } from "./definition.js";

export interface WorkerConfig {
  store: Store;
  clock: Clock;
  logger: Logger;
  emitter: TypedEmitter;
  stats: StatsRecorder;
  workerId: string;
  concurrency: number;
  rateLimiter: SlidingWindowLimiter | null;
  definitions: ReadonlyMap<string, ResolvedDefinition>;
  leaseMs: number;
  /**
   * Jobs claimed ahead of free slots (0: claim only for free slots). "auto"
   * holds about PREFETCH_TARGET_MS (claim-plan.ts) of work: many short jobs,
   * none of long ones (a worker must not hoard long jobs other workers could
   * run); before any run time is known it guesses one more wave, and hands
   * back what has not started after PREFETCH_HOLD_MS (prefetch-hold.ts).
   */
  prefetch: number | "auto";
  /** Polling backstop for stores shared with other processes; null for none. */
  pollIntervalMs: number | null;
  maxPayloadBytes: number;
  /** Default for definitions without their own stuckAfterMs. */
  stuckAfterMs: number;
  /** Called when this worker saw nothing queued and nothing running. */
  onIdle: () => void;
  /** Called after a claim took jobs (queued count dropped). */
  onClaimed: () => void;
}
