import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { Worker } from "./worker/worker.js";

export interface HealthIssue {
  kind: "overdue" | "no-progress" | "zombie" | "stalled" | "event-loop-lag";
  message: string;
  jobId?: string;
  name?: string;
  ageMs?: number;
}

export interface Health {
  status: "healthy" | "degraded";
  issues: HealthIssue[];
  running: boolean;
}

export interface HealthThresholds {
  stuckAfterMs: number;
  stallAfterMs: number;
  eventLoopLagMs: number;
}

/** Event-loop delay, sampled by Node itself (no timer of ours); on only while the queue runs. */
export class LoopLagMonitor {
  private histogram: IntervalHistogram | null = null;

  start(): void {
    if (this.histogram) return;
    this.histogram = monitorEventLoopDelay({ resolution: 20 });
    this.histogram.enable();
  }

  stop(): void {
    this.histogram?.disable();
    this.histogram = null;
  }

  /** p99 delay in ms since the last read. */
  readP99(): number | null {
    if (!this.histogram || this.histogram.count === 0) return null;
    const ms = this.histogram.percentile(99) / 1e6;
    this.histogram.reset();
    return ms;
  }
}

export function assessHealth(
  worker: Worker,
  queued: number,
  startedAt: number | null,
  lastStartAt: number | null,
  now: number,
  thresholds: HealthThresholds,
  loopLagP99: number | null,
): Health {
  const issues: HealthIssue[] = [];
  for (const exec of worker.active) {
    const { id, name } = exec.job;
    const timeoutMs = exec.job.timeoutMs ?? exec.def.timeoutMs;
    const ageMs = now - exec.startedAt;
    if (timeoutMs !== null && ageMs > timeoutMs + exec.def.abortGraceMs) {
      issues.push({
        kind: "overdue",
        jobId: id,
        name,
        ageMs,
        message: `job ${id} (${name}) has run ${ageMs} ms, past its ${timeoutMs} ms timeout`,
      });
    }
    const quietMs = now - exec.lastProgressAt;
    if (quietMs > worker.stuckAfterMs(exec)) {
      issues.push({
        kind: "no-progress",
        jobId: id,
        name,
        ageMs: quietMs,
        message: `job ${id} (${name}) has reported no progress for ${quietMs} ms`,
      });
    }
  }
  for (const exec of worker.zombies) {
    const ageMs = now - exec.startedAt;
    issues.push({
      kind: "zombie",
      jobId: exec.job.id,
      name: exec.job.name,
      ageMs,
      message: `job ${exec.job.id} (${exec.job.name}) was settled after an abort but its handler is still running (slot held)`,
    });
  }
  if (worker.isRunning && queued > 0 && worker.busy < worker.capacity) {
    const since = lastStartAt ?? startedAt ?? now;
    const idleMs = now - since;
    const waitingForTimer = worker.nextWakeAt !== null && worker.nextWakeAt > now;
    if (idleMs > thresholds.stallAfterMs && !waitingForTimer) {
      issues.push({
        kind: "stalled",
        ageMs: idleMs,
        message: `${queued} job(s) queued and ${worker.capacity - worker.busy} slot(s) free, but nothing started for ${idleMs} ms`,
      });
    }
  }
  if (loopLagP99 !== null && loopLagP99 > thresholds.eventLoopLagMs) {
    issues.push({
      kind: "event-loop-lag",
      ageMs: Math.round(loopLagP99),
      message: `event-loop delay p99 is ${Math.round(loopLagP99)} ms`,
    });
  }
  return { status: issues.length === 0 ? "healthy" : "degraded", issues, running: worker.isRunning };
}
