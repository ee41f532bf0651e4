/** The rescue statement: requeues, fails or cancels running jobs whose lease expired. */

import {
  appendJson,
  cancelledError,
  notifyAvailableIf,
  notifyFinished,
  type SqlContext,
  type Statement,
} from "./shared.js";

/** The error of a rescued attempt whose lease expired (same object as the memory store's). */
const LEASE_ERROR = `json_build_object('name', 'LeaseExpiredError', 'code', 'OPTIQ_LEASE_LOST', 'message', 'lease expired at attempt ' || j.attempt || ': the worker stopped heartbeating')`;

/** $1 now, $2 limit. */
export function rescue(ctx: SqlContext): Statement {
  const s = ctx.s;
  const entry = `json_build_object('attempt', j.attempt, 'at', $1::float8, 'error', ${LEASE_ERROR})::text`;
  return ctx.named(
    "rescue",
    `WITH expired AS (
        SELECT id FROM ${s}.jobs
        WHERE state = 'running' AND lease_expires_at <= $1::float8
        ORDER BY lease_expires_at, id
        LIMIT $2::int
        FOR UPDATE SKIP LOCKED
      ),
      rescued AS (
        UPDATE ${s}.jobs j
        SET state = CASE WHEN j.cancel_requested THEN 'cancelled'
                         WHEN j.attempt < j.max_attempts THEN 'queued'
                         ELSE 'failed' END,
            lease_owner = NULL,
            lease_expires_at = NULL,
            cancel_reason = CASE WHEN j.cancel_requested THEN coalesce(j.cancel_reason, 'cancelled') ELSE j.cancel_reason END,
            error = CASE WHEN j.cancel_requested THEN ${cancelledError("coalesce(j.cancel_reason, 'cancelled')")}
                         ELSE ${LEASE_ERROR} END,
            errors = CASE WHEN j.cancel_requested THEN j.errors ELSE ${appendJson("j.errors", entry)} END,
            finished_at = CASE WHEN j.cancel_requested OR j.attempt >= j.max_attempts THEN $1::float8 ELSE j.finished_at END,
            run_at = CASE WHEN NOT j.cancel_requested AND j.attempt < j.max_attempts THEN $1::float8 ELSE j.run_at END
        WHERE j.id = ANY (ARRAY(SELECT id FROM expired))
        RETURNING j.id, j.state, j.started_at
      ),
      notes AS (
        ${notifyFinished(ctx, "rescued", "r.state <> 'queued'")}
        UNION ALL
        ${notifyAvailableIf(ctx, "SELECT 1 FROM rescued")}
      )
      SELECT r.id::text AS id, r.state, (SELECT count(*) FROM notes) AS notified
      FROM rescued r
      ORDER BY r.started_at, r.id`,
  );
}
