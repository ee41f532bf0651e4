import type { HeartbeatParams, HeartbeatResult } from "../../store/port.js";
import { rowId } from "./columns.js";
import type { Statements } from "./statements.js";

/** Extends the leases the worker still holds (guarded), saving progress and checkpoints it reported. */
export function extendLeases(s: Statements, params: HeartbeatParams): HeartbeatResult {
  const lost: string[] = [];
  const cancelRequested: string[] = [];
  const expires = params.now + params.leaseMs;
  for (const entry of params.entries) {
    const id = rowId(entry.id);
    const hasProgress = entry.progress !== undefined;
    const hasCheckpoint = entry.checkpoint !== undefined;
    const row =
      id === null
        ? undefined
        : s.heartbeat.get({
            id,
            owner: params.workerId,
            attempt: entry.attempt,
            now: params.now,
            expires,
            hasProgress: hasProgress ? 1 : 0,
            progress: hasProgress ? (JSON.stringify(entry.progress) ?? null) : null,
            hasCheckpoint: hasCheckpoint ? 1 : 0,
            checkpoint: hasCheckpoint ? (JSON.stringify(entry.checkpoint) ?? null) : null,
          });
    if (!row) lost.push(entry.id);
    else if (row.cancel_requested) cancelRequested.push(entry.id);
  }
  return { lost, cancelRequested };
}
