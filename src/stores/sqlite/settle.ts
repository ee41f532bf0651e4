/**
 * The writes that end or undo a lease: settle, release, rescue of expired
 * leases, and cancel. Every state change of a running job is guarded by
 * owner and attempt, so a worker that lost its lease cannot overwrite the
 * new holder.
 */
import { StoreError } from "../../core/errors.js";
import type { SerializedError } from "../../core/job.js";
import type { JobState } from "../../core/states.js";
import type {
  CancelOutcome,
  CancelParams,
  Outcome,
  ReleaseParams,
  RescueParams,
  RescueResult,
  SettleParams,
  SettleResult,
} from "../../store/port.js";
import { cancelledError, errorColumns, rowId } from "./columns.js";
import type { Effects } from "./effects.js";
import type { LeaseRow, Statements } from "./statements.js";

export function settleJobs(s: Statements, params: SettleParams, fx: Effects): SettleResult[] {
  const { now, workerId } = params;
  // fast path: every plain completion in one guarded statement
  const fast = new Map<number, string | null>();
  const completions: [number, number, string | null][] = [];
  for (const st of params.settlements) {
    const id = st.outcome.kind === "completed" ? rowId(st.id) : null;
    if (id !== null && st.outcome.kind === "completed")
      completions.push([id, st.attempt, st.outcome.resultJson ?? null]);
  }
  if (completions.length > 0) {
    for (const r of s.completeMany.all({ batch: JSON.stringify(completions), owner: workerId, now })) {
      fast.set(r.id, r.group_name);
    }
  }
  const results: SettleResult[] = [];
  for (const st of params.settlements) {
    const id = rowId(st.id);
    if (id !== null && st.outcome.kind === "completed" && fast.has(id)) {
      if (fast.get(id) !== null) fx.available = true;
      fast.delete(id); // a repeated id in the same call is refused below, as the job is no longer running
      fx.move("running", "completed");
      fx.finished.push(st.id);
      fx.trimAt = now;
      results.push({ id: st.id, applied: true, state: "completed" });
      continue;
    }
    const row = id === null ? undefined : s.leaseRow.get(id);
    if (!row || row.state !== "running" || row.lease_owner !== workerId || row.attempt !== st.attempt) {
      results.push({ id: st.id, applied: false, state: row?.state ?? null });
      continue;
    }
    // a requested cancel wins, with the caller's reason; the worker's note (if any) is kept
    const note = st.outcome.kind === "cancelled" ? st.outcome.note : undefined;
    const outcome: Outcome = row.cancel_requested
      ? { kind: "cancelled", reason: row.cancel_reason ?? "cancelled", note }
      : st.outcome;
    const state = applyOutcome(s, row, outcome, now, fx);
    if (row.group_name !== null) fx.available = true;
    if (outcome.kind === "retry" && outcome.runAt <= now) fx.available = true;
    results.push({ id: st.id, applied: true, state });
  }
  return results;
}

export function releaseJobs(s: Statements, params: ReleaseParams, fx: Effects): string[] {
  const released: string[] = [];
  for (const { id, attempt } of params.jobs) {
    const rowid = rowId(id);
    if (rowid === null) continue;
    const guard = { id: rowid, owner: params.workerId, attempt, now: params.now };
    if (s.releaseClaim.run(guard).changes === 1) {
      fx.move("running", "queued");
      fx.available = true;
      released.push(id);
      continue;
    }
    const row = s.leaseRow.get(rowid);
    if (row?.state === "running" && row.lease_owner === params.workerId && row.attempt === attempt) {
      // its cancel was requested while we held it: it ends cancelled, as a settle would
      applyOutcome(s, row, { kind: "cancelled", reason: row.cancel_reason ?? "cancelled" }, params.now, fx);
    }
  }
  return released;
}

export function cancelJob(s: Statements, params: CancelParams, fx: Effects): CancelOutcome {
  const id = rowId(params.id);
  const row = id === null ? undefined : s.stateOf.get(id);
  if (id === null || !row) return "not-found";
  if (row.state === "queued") {
    s.cancelQueued.run({ id, now: params.now, reason: params.reason, error: cancelledError(params.reason) });
    fx.move("queued", "cancelled");
    fx.finished.push(String(id));
    fx.trimAt = params.now;
    return "cancelled";
  }
  if (row.state === "running") {
    // idempotent: a second cancel keeps the first reason and notifies again
    if (!row.cancel_requested) s.requestCancel.run(params.reason, id);
    fx.cancelRequested.push(String(id));
    return "requested";
  }
  return "unchanged";
}

export function rescueExpired(s: Statements, params: RescueParams, fx: Effects): RescueResult {
  const { now } = params;
  const result: RescueResult = { requeued: [], failed: [], cancelled: [] };
  if (!(params.limit > 0)) return result;
  const limit = Number.isFinite(params.limit) ? params.limit : -1;
  for (const row of s.expired.all(now, limit)) {
    const id = String(row.id);
    if (row.cancel_requested) {
      applyOutcome(s, row, { kind: "cancelled", reason: row.cancel_reason ?? "cancelled" }, now, fx);
      result.cancelled.push(id);
      continue;
    }
    const error: SerializedError = {
      name: "LeaseExpiredError",
      code: "OPTIQ_LEASE_LOST",
      message: `lease expired at attempt ${row.attempt}: the worker stopped heartbeating`,
    };
    if (row.attempt < row.max_attempts) {
      applyOutcome(s, row, { kind: "retry", error, runAt: now }, now, fx);
      result.requeued.push(id);
    } else {
      applyOutcome(s, row, { kind: "failed", error }, now, fx);
      result.failed.push(id);
    }
  }
  if (result.requeued.length + result.failed.length + result.cancelled.length > 0) fx.available = true;
  return result;
}

/** Applies a settle outcome to a running job (guarded); returns the new state. */
function applyOutcome(s: Statements, row: LeaseRow, outcome: Outcome, now: number, fx: Effects): JobState {
  const guard = { id: row.id, owner: row.lease_owner ?? "", attempt: row.attempt, now };
  let state: JobState;
  let changes: number;
  switch (outcome.kind) {
    case "completed":
      state = "completed";
      changes = s.complete.run({ ...guard, result: outcome.resultJson ?? null }).changes;
      break;
    case "failed":
      state = "failed";
      changes = s.fail.run({ ...guard, ...errorColumns(row, outcome.error, now) }).changes;
      break;
    case "retry":
      state = "queued";
      changes = s.retry.run({ ...guard, ...errorColumns(row, outcome.error, now), runAt: outcome.runAt }).changes;
      break;
    case "cancelled":
      state = "cancelled";
      changes = s.cancelRunning.run({
        ...guard,
        reason: outcome.reason,
        error: cancelledError(outcome.reason, outcome.note),
      }).changes;
      break;
  }
  if (changes !== 1) throw new StoreError(`job ${row.id}: guarded update matched ${changes} rows`);
  fx.move("running", state);
  if (state !== "queued") {
    fx.finished.push(String(row.id));
    fx.trimAt = now;
  }
  return state;
}
