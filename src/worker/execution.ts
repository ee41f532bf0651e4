import { toRunningJob, type HandlerContext, type RunningJob } from "../core/definition.js";
import type { OptiqError } from "../core/errors.js";
import type { TimerHandle } from "../core/clock.js";
import type { ClaimedJob, Outcome } from "../store/port.js";
import type { ResolvedDefinition } from "./definition.js";

const NOTHING: unique symbol = Symbol("nothing");

export interface ExecutionHost {
  readonly workerId: string;
  onProgress(exec: Execution, value: unknown): void;
  onCheckpoint(exec: Execution, state: unknown): void;
}

/**
 * One attempt of one job in this process. It is the handler's context too.
 * Lifecycle: running → (aborted: signal fired) → finalized (outcome handed to
 * the store) ; independently the handler settles. The slot is freed only
 * when the handler has settled: a handler that ignores its signal keeps its
 * slot, and is reported by health() as a zombie.
 */
export class Execution implements HandlerContext {
  private controller: AbortController | null = null;
  abortReason: OptiqError | null = null;
  handlerSettled = false;
  finalized = false;
  timeoutTimer: TimerHandle | null = null;
  graceTimer: TimerHandle | null = null;
  lastProgressAt: number;
  pendingProgress: unknown = NOTHING;
  pendingCheckpoint: unknown = NOTHING;
  readonly runningJob: RunningJob;
  /** Set when the attempt is finalized: what the settlement queue writes. */
  outcome: Outcome | null = null;
  /** Links in the worker's list of running attempts (see ActiveExecutions). */
  listed = false;
  prevActive: Execution | null = null;
  nextActive: Execution | null = null;

  constructor(
    readonly job: ClaimedJob,
    readonly def: ResolvedDefinition,
    readonly startedAt: number,
    private readonly host: ExecutionHost,
  ) {
    this.lastProgressAt = startedAt;
    this.runningJob = toRunningJob(job);
  }

  get workerId(): string {
    return this.host.workerId;
  }

  /** Created on first use: most handlers of short jobs never look at it. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortReason) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  progress(value: unknown): void {
    if (!this.finalized) this.host.onProgress(this, value);
  }

  checkpoint(state: unknown): void {
    if (!this.finalized) this.host.onCheckpoint(this, state);
  }

  /** Fires the signal; the first reason wins. Returns false if already aborted. */
  abort(reason: OptiqError): boolean {
    if (this.abortReason) return false;
    this.abortReason = reason;
    this.controller?.abort(reason);
    return true;
  }

  get hasPendingWrites(): boolean {
    return this.pendingProgress !== NOTHING || this.pendingCheckpoint !== NOTHING;
  }

  /** Takes the unsaved progress/checkpoint for a heartbeat. */
  takePendingWrites(): { progress?: unknown; checkpoint?: unknown } {
    const out: { progress?: unknown; checkpoint?: unknown } = {};
    if (this.pendingProgress !== NOTHING) out.progress = this.pendingProgress;
    if (this.pendingCheckpoint !== NOTHING) out.checkpoint = this.pendingCheckpoint;
    this.pendingProgress = NOTHING;
    this.pendingCheckpoint = NOTHING;
    return out;
  }
}
