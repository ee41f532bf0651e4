import type { TimerHandle } from "../core/clock.js";
import { JobStuckError, LeaseLostError } from "../core/errors.js";
import { toJson } from "../core/validate.js";
import type { AbortControl } from "./abort-control.js";
import type { ActiveExecutions } from "./active-executions.js";
import type { WorkerConfig } from "./config.js";
import type { Execution } from "./execution.js";
import type { PrefetchBuffer } from "./prefetch-buffer.js";

type LeaseConfig = Pick<
  WorkerConfig,
  "store" | "clock" | "logger" | "emitter" | "workerId" | "leaseMs" | "maxPayloadBytes" | "stuckAfterMs"
>;

/**
 * Keeps the leases of this worker's jobs (running and prefetched) with
 * heartbeats, and writes progress and checkpoints with them: validated when
 * reported, written in batches. A heartbeat's answer tells of leases lost and
 * cancels requested; each beat also aborts attempts stuck under an "abort" policy.
 */
export class LeaseKeeper {
  private heartbeatTimer: TimerHandle | null = null;
  private writeScheduled = false;
  private writeTimer: TimerHandle | null = null;

  constructor(
    private readonly config: LeaseConfig,
    private readonly executions: ActiveExecutions,
    private readonly buffer: PrefetchBuffer,
    private readonly aborts: AbortControl,
    /** The worker's abortIds: stops those attempts and settles those prefetched. */
    private readonly onCancelRequested: (ids: readonly string[]) => void,
  ) {}

  start(): void {
    this.scheduleHeartbeat();
  }

  stop(): void {
    if (this.heartbeatTimer !== null) this.config.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
    if (this.writeTimer !== null) this.config.clock.clearTimeout(this.writeTimer);
    this.writeTimer = null;
    this.writeScheduled = false;
  }

  onProgress(exec: Execution, value: unknown): void {
    toJson("progress", value, this.config.maxPayloadBytes);
    exec.pendingProgress = value;
    exec.lastProgressAt = this.config.clock.now();
    if (this.config.emitter.has("progress")) {
      this.config.emitter.emit("progress", { id: exec.job.id, name: exec.job.name, progress: value });
    }
    this.scheduleWrites();
  }

  onCheckpoint(exec: Execution, state: unknown): void {
    toJson("checkpoint", state, this.config.maxPayloadBytes);
    exec.pendingCheckpoint = state;
    // a checkpoint is about surviving a crash: written at the next turn, not batched with progress
    this.scheduleWrites(true);
  }

  private scheduleWrites(urgent = false): void {
    const interval = urgent ? 0 : this.config.store.capabilities.writeIntervalMs;
    if (this.writeScheduled && !(urgent && this.writeTimer !== null)) return;
    if (this.writeTimer !== null) this.config.clock.clearTimeout(this.writeTimer);
    this.writeTimer = null;
    this.writeScheduled = true;
    const flush = () => {
      this.writeScheduled = false;
      this.writeTimer = null;
      void this.heartbeat(false);
    };
    if (interval <= 0) setImmediate(flush);
    else this.writeTimer = this.config.clock.setTimeout(flush, interval);
  }

  /** Extends leases (all, or only attempts with unsaved progress) and learns of lost leases and cancels. */
  async heartbeat(all: boolean): Promise<void> {
    const entries = [];
    for (const exec of this.executions) {
      if (!all && !exec.hasPendingWrites) continue;
      entries.push({ id: exec.job.id, attempt: exec.job.attempt, ...exec.takePendingWrites() });
    }
    if (all) for (const job of this.buffer) entries.push({ id: job.id, attempt: job.attempt });
    if (entries.length === 0) return;
    try {
      const { lost, cancelRequested } = await this.config.store.heartbeat({
        workerId: this.config.workerId,
        entries,
        leaseMs: this.config.leaseMs,
        now: this.config.clock.now(),
      });
      for (const exec of this.executions.findAll(lost)) this.aborts.abort(exec, new LeaseLostError(exec.job.id), 0);
      for (const id of lost) this.buffer.remove(id); // rescued elsewhere before it started here
      this.onCancelRequested(cancelRequested);
    } catch (err) {
      this.config.logger.error({ err }, "heartbeat failed; will retry at the next beat");
    }
  }

  /** How long an attempt may go without progress before it counts as stuck. */
  stuckAfterMs(exec: Execution): number {
    return exec.def.stuckAfterMs ?? this.config.stuckAfterMs;
  }

  /** Aborts stuck attempts of names whose policy says so (checked at each heartbeat). */
  abortStuck(): void {
    const now = this.config.clock.now();
    for (const exec of this.executions.toArray()) {
      if (exec.def.onStuck !== "abort") continue;
      const quietMs = now - exec.lastProgressAt;
      if (quietMs > this.stuckAfterMs(exec)) this.aborts.abort(exec, new JobStuckError(quietMs));
    }
  }

  private scheduleHeartbeat(): void {
    const every = Math.max(10, Math.floor(this.config.leaseMs / 3));
    this.heartbeatTimer = this.config.clock.setTimeout(() => {
      this.abortStuck();
      void this.heartbeat(true).finally(() => {
        if (this.heartbeatTimer !== null) this.scheduleHeartbeat();
      });
    }, every);
  }
}
