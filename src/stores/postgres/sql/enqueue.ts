/** Statements of enqueueing: the batch insert (with or without the maxQueued cap), its key lookup and its lock. */

import { notifyAvailableIf, type SqlContext, type Statement } from "./shared.js";

/**
 * $1 now, $2..$10 arrays: name, input, priority, run_at, max_attempts,
 * timeout_ms, backoff, key, group_name; with a cap also $11 maxQueued.
 * Ids are drawn in submission order before the insert, so every input row
 * knows its id; rows whose key conflicted come back with a null id and the
 * caller reads the existing ids in a next statement (whose snapshot also
 * sees a conflicting writer that committed while this one waited).
 */
export function enqueue(ctx: SqlContext, withCap: boolean): Statement {
  const s = ctx.s;
  const cap = withCap
    ? `cap AS (
          SELECT (SELECT coalesce(sum(c.n), 0) FROM (
                    SELECT n FROM ${s}.counts WHERE state = 'queued'
                    UNION ALL SELECT delta FROM ${s}.count_deltas WHERE state = 'queued') c)::bigint AS queued,
                 ((SELECT count(*) FROM input i WHERE i.key IS NULL)
                  + (SELECT count(DISTINCT i.key) FROM input i
                     WHERE i.key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${s}.jobs e WHERE e.key = i.key)))::bigint AS fresh
        ),
        ok AS (SELECT cap.queued + cap.fresh <= $11::bigint AS yes, cap.queued FROM cap),`
    : "";
  return ctx.named(
    withCap ? "enqueue_cap" : "enqueue",
    `WITH input AS (
        SELECT nextval('${s}.jobs_id_seq') AS id, t.*
        FROM unnest($2::text[], $3::text[], $4::int[], $5::float8[], $6::int[], $7::float8[], $8::text[], $9::text[], $10::text[])
          WITH ORDINALITY AS t(name, input, priority, run_at, max_attempts, timeout_ms, backoff, key, group_name, ord)
      ),
      ${cap}
      ins AS (
        INSERT INTO ${s}.jobs (id, name, state, priority, input, attempt, max_attempts, key, group_name,
                               timeout_ms, backoff, created_at, run_at)
        SELECT i.id, i.name, 'queued', i.priority, i.input::json, 0, i.max_attempts, i.key, i.group_name,
               i.timeout_ms, i.backoff::json, $1::float8, i.run_at
        FROM input i ${withCap ? "WHERE (SELECT yes FROM ok)" : ""}
        ORDER BY i.ord
        ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING
        RETURNING id, key, run_at
      ),
      wake AS (${notifyAvailableIf(ctx, `SELECT 1 FROM ins`)})
      SELECT i.ord, ins.id::text AS id, i.key, (SELECT count(*) FROM wake) AS woke
        ${withCap ? ", (SELECT yes FROM ok) AS ok, (SELECT queued FROM ok) AS queued" : ""}
      FROM input i LEFT JOIN ins ON ins.id = i.id
      ORDER BY i.ord`,
  );
}

/** $1 keys: ids of existing keyed jobs (a fresh snapshot after ON CONFLICT waited for another writer). */
export function idsByKey(ctx: SqlContext): Statement {
  return ctx.named("ids_by_key", `SELECT id::text AS id, key FROM ${ctx.s}.jobs WHERE key = ANY ($1::text[])`);
}

/** Serialises enqueues that check maxQueued (released at commit). */
export function enqueueLock(ctx: SqlContext): Statement {
  return ctx.named("enqueue_lock", `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`);
}
