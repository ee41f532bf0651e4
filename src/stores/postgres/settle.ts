/**
 * The writes that end or undo a lease: settle, release, cancel, and rescue of
 * expired leases. Every state change is guarded (state, lease owner, attempt),
 * so a job reaches one terminal state once whatever the races.
 */
import type { JobState } from "../../core/states.js";
import type {
  CancelOutcome,
  CancelParams,
  ReleaseParams,
  RescueParams,
  RescueResult,
  SettleParams,
  SettleResult,
  Settlement,
} from "../../store/port.js";
import type { Connections } from "./connection.js";
import { clampInt, num, validId } from "./convert.js";
import type { Counts } from "./counts.js";
import type { Sql } from "./sql.js";

/** Writes the outcomes of attempts in one statement; results come back in the order of `params.settlements`. */
export async function settle(db: Connections, sql: Sql, counts: Counts, params: SettleParams): Promise<SettleResult[]> {
  const { settlements, now } = params;
  if (settlements.length === 0) return [];
  // duplicates of (id, attempt) after the first can never apply: the first one moved the job on
  const firstIndex = new Map<string, number>();
  const send: Settlement[] = [];
  settlements.forEach((s, i) => {
    const k = `${s.id}:${s.attempt}`;
    if (!validId(s.id) || firstIndex.has(k)) return;
    firstIndex.set(k, i);
    send.push(s);
  });
  const byKey = new Map<string, SettleResult>();
  if (send.length > 0) {
    counts.wrote();
    const rows = await db.run<{ id: string; attempt: number; state: JobState }>(
      "settle",
      sql.settle,
      [
        params.workerId,
        now,
        send.map((s) => s.id),
        send.map((s) => s.attempt),
        send.map((s) => s.outcome.kind),
        send.map((s) => (s.outcome.kind === "completed" ? s.outcome.resultJson : null)),
        send.map((s) =>
          s.outcome.kind === "failed" || s.outcome.kind === "retry" ? JSON.stringify(s.outcome.error) : null,
        ),
        send.map((s) =>
          s.outcome.kind === "failed" || s.outcome.kind === "retry"
            ? JSON.stringify({ attempt: s.attempt, at: now, error: s.outcome.error })
            : null,
        ),
        send.map((s) => (s.outcome.kind === "retry" ? s.outcome.runAt : null)),
        send.map((s) => (s.outcome.kind === "cancelled" ? s.outcome.reason : null)),
        send.map((s) => (s.outcome.kind === "cancelled" ? (s.outcome.note ?? null) : null)),
      ],
      false,
    );
    for (const r of rows) {
      const id = String(r.id);
      byKey.set(`${id}:${num(r.attempt)}`, { id, applied: true, state: r.state });
    }
    // refused by the guard: report the job's current state (null if it does not exist)
    const refused = send.filter((s) => !byKey.has(`${s.id}:${s.attempt}`));
    if (refused.length > 0) {
      // the settle has committed: a failure here must not hide that, so it only costs the states
      const states = await db
        .run<{ id: string; state: JobState }>("settle", sql.states, [refused.map((s) => s.id)], true)
        .catch(() => []);
      const stateOf = new Map(states.map((r) => [String(r.id), r.state]));
      for (const s of refused)
        byKey.set(`${s.id}:${s.attempt}`, { id: s.id, applied: false, state: stateOf.get(s.id) ?? null });
    }
  }
  return settlements.map((s, i) => {
    const k = `${s.id}:${s.attempt}`;
    const r = byKey.get(k);
    if (!r) return { id: s.id, applied: false, state: null };
    return firstIndex.get(k) === i ? r : { id: s.id, applied: false, state: r.state };
  });
}

/** Puts claimed jobs the worker will not start back in the queue; returns the ids requeued. */
export async function release(db: Connections, sql: Sql, counts: Counts, params: ReleaseParams): Promise<string[]> {
  const jobs = params.jobs.filter((j) => validId(j.id));
  if (jobs.length === 0) return [];
  counts.wrote();
  const rows = await db.run<{ id: string; state: JobState }>(
    "release",
    sql.release,
    [params.workerId, params.now, jobs.map((j) => j.id), jobs.map((j) => j.attempt)],
    false,
  );
  return rows.filter((r) => r.state === "queued").map((r) => String(r.id));
}

export async function cancel(db: Connections, sql: Sql, params: CancelParams): Promise<CancelOutcome> {
  if (!validId(params.id)) return "not-found";
  const rows = await db.run<{ new_state: JobState | null; old_state: JobState | null }>(
    "cancel",
    sql.cancel,
    [params.id, params.reason, params.now],
    false,
  );
  const r = rows[0];
  if (r?.new_state === "cancelled") return "cancelled";
  if (r?.new_state === "running") return "requested";
  return r?.old_state ? "unchanged" : "not-found";
}

export async function rescueExpired(
  db: Connections,
  sql: Sql,
  counts: Counts,
  params: RescueParams,
): Promise<RescueResult> {
  const result: RescueResult = { requeued: [], failed: [], cancelled: [] };
  const limit = clampInt(params.limit);
  if (limit > 0) {
    const rows = await db.run<{ id: string; state: JobState }>("rescueExpired", sql.rescue, [params.now, limit], true);
    for (const r of rows) {
      if (r.state === "queued") result.requeued.push(String(r.id));
      else if (r.state === "failed") result.failed.push(String(r.id));
      else result.cancelled.push(String(r.id));
    }
  }
  await counts.compact();
  return result;
}
