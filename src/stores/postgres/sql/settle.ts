/** Statements that end a worker's hold on its jobs: settle, release, and the states of refused settlements. */

import {
  appendJson,
  cancelledError,
  guarded,
  notifyAvailableIf,
  notifyFinished,
  type SqlContext,
  type Statement,
} from "./shared.js";

/**
 * $1 worker, $2 now, $3 ids, $4 attempts, $5 kinds, $6 results, $7 errors,
 * $8 attempt-error entries (JSON text), $9 retry runAt, $10 cancel reasons,
 * $11 cancel notes.
 * Guarded per row; a requested cancel turns any outcome into cancelled.
 * Returns the settlements applied, with the new state.
 */
export function settle(ctx: SqlContext): Statement {
  const s = ctx.s;
  const eff = `(CASE WHEN j.cancel_requested THEN 'cancelled' ELSE x.kind END)`;
  const reason = `(CASE WHEN j.cancel_requested THEN coalesce(j.cancel_reason, 'cancelled') ELSE x.reason END)`;
  return ctx.named(
    "settle",
    `WITH input AS (
        SELECT * FROM unnest($3::bigint[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::float8[], $10::text[], $11::text[])
          AS x(id, attempt, kind, result, error, entry, run_at, reason, note)
      ),
      held AS (${guarded(ctx, "input", "")}),
      done AS (
        UPDATE ${s}.jobs j
        SET state = CASE ${eff} WHEN 'retry' THEN 'queued' ELSE ${eff} END,
            result = CASE WHEN ${eff} = 'completed' THEN x.result::json ELSE j.result END,
            error = CASE ${eff}
                      WHEN 'cancelled' THEN ${cancelledError(reason, "x.note")}
                      WHEN 'failed' THEN x.error::json
                      WHEN 'retry' THEN x.error::json
                      ELSE j.error END,
            errors = CASE WHEN ${eff} IN ('failed', 'retry') THEN ${appendJson("j.errors", "x.entry")} ELSE j.errors END,
            cancel_reason = CASE WHEN ${eff} = 'cancelled' THEN ${reason} ELSE j.cancel_reason END,
            finished_at = CASE WHEN ${eff} = 'retry' THEN j.finished_at ELSE $2::float8 END,
            run_at = CASE WHEN ${eff} = 'retry' THEN x.run_at ELSE j.run_at END,
            lease_owner = NULL,
            lease_expires_at = NULL
        FROM held x
        WHERE j.id = x.id
        RETURNING j.id, j.attempt, j.state, j.group_name, j.run_at
      ),
      notes AS (
        ${notifyFinished(ctx, "done", "r.state <> 'queued'")}
        UNION ALL
        ${notifyAvailableIf(ctx, `SELECT 1 FROM done d WHERE d.group_name IS NOT NULL OR (d.state = 'queued' AND d.run_at <= $2::float8)`)}
      )
      SELECT done.id::text AS id, done.attempt, done.state, (SELECT count(*) FROM notes) AS notified FROM done`,
  );
}

/**
 * $1 worker, $2 now, $3 ids, $4 attempts: claimed jobs the worker will not
 * start go back to the queue with their attempt undone (a requested cancel
 * ends them cancelled instead). Returns the rows changed.
 */
export function release(ctx: SqlContext): Statement {
  const s = ctx.s;
  const reason = `coalesce(j.cancel_reason, 'cancelled')`;
  return ctx.named(
    "release",
    `WITH input AS (SELECT * FROM unnest($3::bigint[], $4::int[]) AS x(id, attempt)),
      held AS (${guarded(ctx, "input", "")}),
      done AS (
        UPDATE ${s}.jobs j
        SET state = CASE WHEN j.cancel_requested THEN 'cancelled' ELSE 'queued' END,
            attempt = CASE WHEN j.cancel_requested THEN j.attempt ELSE j.attempt - 1 END,
            started_at = CASE WHEN j.cancel_requested THEN j.started_at ELSE NULL END,
            finished_at = CASE WHEN j.cancel_requested THEN $2::float8 ELSE j.finished_at END,
            error = CASE WHEN j.cancel_requested THEN ${cancelledError(reason)} ELSE j.error END,
            cancel_reason = CASE WHEN j.cancel_requested THEN ${reason} ELSE j.cancel_reason END,
            lease_owner = NULL,
            lease_expires_at = NULL
        FROM held x
        WHERE j.id = x.id
        RETURNING j.id, j.state, j.group_name, j.run_at
      ),
      notes AS (
        ${notifyFinished(ctx, "done", "r.state = 'cancelled'")}
        UNION ALL
        ${notifyAvailableIf(ctx, `SELECT 1 FROM done d WHERE d.state = 'queued'`)}
      )
      SELECT done.id::text AS id, done.state, (SELECT count(*) FROM notes) AS notified FROM done`,
  );
}

/** $1 ids: current states (for settlements the guard refused). */
export function states(ctx: SqlContext): Statement {
  return ctx.named("states", `SELECT id::text AS id, state FROM ${ctx.s}.jobs WHERE id = ANY ($1::bigint[])`);
}
