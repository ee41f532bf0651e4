/** The cancel statement: ends a queued job, flags a running one for its worker. */

import { cancelledError, type SqlContext, type Statement } from "./shared.js";

/** $1 id, $2 reason, $3 now. */
export function cancel(ctx: SqlContext): Statement {
  const s = ctx.s;
  return ctx.named(
    "cancel",
    `WITH c AS (
        UPDATE ${s}.jobs j
        SET state = CASE WHEN j.state = 'queued' THEN 'cancelled' ELSE j.state END,
            cancel_reason = CASE WHEN j.state = 'queued' OR NOT j.cancel_requested THEN $2::text ELSE j.cancel_reason END,
            cancel_requested = j.cancel_requested OR j.state = 'running',
            finished_at = CASE WHEN j.state = 'queued' THEN $3::float8 ELSE j.finished_at END,
            error = CASE WHEN j.state = 'queued' THEN ${cancelledError("$2::text")} ELSE j.error END
        WHERE j.id = $1::bigint AND j.state IN ('queued', 'running')
        RETURNING j.id, j.state
      ),
      notes AS (
        SELECT pg_notify(CASE WHEN c.state = 'cancelled' THEN ${ctx.chan.finished} ELSE ${ctx.chan.cancel} END, c.id::text)
        FROM c
      )
      SELECT (SELECT state FROM c) AS new_state,
             (SELECT state FROM ${s}.jobs WHERE id = $1::bigint) AS old_state,
             (SELECT count(*) FROM notes) AS notified`,
  );
}
