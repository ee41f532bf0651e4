/** What several statement groups share: the Statement type, its context, error, JSON, notify and guard fragments. */

/** A named prepared statement: pg prepares it once per connection. */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

/**
 * What a statement builder needs from its store: the quoted schema, the
 * quoted notification channels, and the naming of prepared statements (so
 * every name carries the schema's tag).
 */
export interface SqlContext {
  readonly s: string;
  readonly chan: { readonly available: string; readonly finished: string; readonly cancel: string };
  named(name: string, text: string): Statement;
}

/** Rows from notify CTEs are chunked so each payload stays well under PostgreSQL's 8000-byte limit. */
const IDS_PER_NOTIFICATION = 300;

/** The error a cancelled job carries (same object as the memory store's). */
export function cancelledError(reason: string, note = "NULL::text"): string {
  return `json_build_object('name', 'JobCancelledError', 'code', 'OPTIQ_JOB_CANCELLED', 'message', 'cancelled: ' || ${reason} || coalesce('; ' || ${note}, ''))`;
}

/** Appends one JSON entry (text) to a json array column, keeping the stored text as is. */
export function appendJson(column: string, entryText: string): string {
  return `CASE WHEN ${column} IS NULL THEN ('[' || ${entryText} || ']')::json ELSE (left(${column}::text, -1) || ',' || ${entryText} || ']')::json END`;
}

/** pg_notify of the finished ids among `rowsSql` (which has columns id, state), chunked. */
export function notifyFinished(ctx: SqlContext, rowsSql: string, where: string): string {
  return `SELECT pg_notify(${ctx.chan.finished}, string_agg(f.id::text, ',' ORDER BY f.id))
      FROM (SELECT r.id, (row_number() OVER (ORDER BY r.id) - 1) / ${IDS_PER_NOTIFICATION} AS chunk
            FROM ${rowsSql} r WHERE ${where}) f
      GROUP BY f.chunk`;
}

export function notifyAvailableIf(ctx: SqlContext, existsSql: string): string {
  return `SELECT pg_notify(${ctx.chan.available}, '') FROM (${existsSql} LIMIT 1) a`;
}

/**
 * Locks, in id order, the rows of `input` (a CTE with columns id, attempt)
 * still running under this worker at that attempt ($1 is the worker).
 * Each row is fetched by primary key inside a fenced LATERAL subquery
 * (OFFSET 0), so the plan stays an index lookup per entry even as a cached
 * generic plan (which assumes ten entries, and would otherwise pick a
 * nested loop over the running set: quadratic for a batch of 500); the
 * guard is evaluated on the locked, latest row version.
 */
export function guarded(ctx: SqlContext, input: string, extra: string): string {
  return `SELECT i.*, c.cancel_requested, c.cancel_reason${extra}
      FROM (SELECT * FROM ${input} ORDER BY id) i
      CROSS JOIN LATERAL (
        SELECT j.state, j.lease_owner, j.attempt, j.cancel_requested, j.cancel_reason
        FROM ${ctx.s}.jobs j WHERE j.id = i.id
        OFFSET 0
        FOR NO KEY UPDATE
      ) c
      WHERE c.state = 'running' AND c.lease_owner = $1::text AND c.attempt = i.attempt`;
}
