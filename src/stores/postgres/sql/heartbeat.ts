/** The heartbeat statement: lease extension with progress and checkpoint, guarded per job. */

import { guarded, type SqlContext, type Statement } from "./shared.js";

/**
 * $1 worker, $2 now, $3 leaseMs, $4 ids, $5 attempts, $6 hasProgress,
 * $7 progress, $8 hasCheckpoint, $9 checkpoint. Returns the entries still
 * held (the others are lost).
 */
export function heartbeat(ctx: SqlContext): Statement {
  const s = ctx.s;
  return ctx.named(
    "heartbeat",
    `WITH e AS (
        SELECT * FROM unnest($4::bigint[], $5::int[], $6::bool[], $7::text[], $8::bool[], $9::text[])
          AS e(id, attempt, has_p, p, has_c, c)
      ),
      held AS (${guarded(ctx, "e", "")}),
      hb AS (
        UPDATE ${s}.jobs j
        SET lease_expires_at = $2::float8 + $3::float8,
            progress = CASE WHEN h.has_p THEN h.p::json ELSE j.progress END,
            last_progress_at = CASE WHEN h.has_p THEN $2::float8 ELSE j.last_progress_at END,
            checkpoint = CASE WHEN h.has_c THEN h.c::json ELSE j.checkpoint END
        FROM held h
        WHERE j.id = h.id
        RETURNING j.id, j.attempt, j.cancel_requested
      )
      SELECT hb.id::text AS id, hb.attempt, hb.cancel_requested FROM hb`,
  );
}
