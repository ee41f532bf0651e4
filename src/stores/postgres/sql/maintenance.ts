/** Housekeeping statements: retention, the state counters and their compaction, group configuration. */

import { notifyAvailableIf, type SqlContext, type Statement } from "./shared.js";

const TERMINAL = "('completed', 'failed', 'cancelled')";

// ------------------------------------------------------------- retention

/**
 * $1 now, $2 maxAgeMs, $3 maxCount, $4 batch. Deletes up to a batch of the
 * oldest finished jobs that are beyond the count or older than the age.
 */
export function prune(ctx: SqlContext): Statement {
  const s = ctx.s;
  return ctx.named(
    "prune",
    `WITH fin AS (
        SELECT coalesce(sum(c.n), 0)::bigint AS n FROM (
          SELECT n FROM ${s}.counts WHERE state IN ${TERMINAL}
          UNION ALL SELECT delta FROM ${s}.count_deltas WHERE state IN ${TERMINAL}) c
      ),
      oldest AS (
        SELECT o.id, o.finished_at, row_number() OVER (ORDER BY o.finished_at, o.id) AS rn
        FROM (SELECT id, finished_at FROM ${s}.jobs WHERE finished_at IS NOT NULL
              ORDER BY finished_at, id LIMIT $4::int) o
      ),
      victims AS (
        SELECT o.id FROM oldest o
        WHERE o.rn <= (SELECT n FROM fin) - $3::bigint OR $1::float8 - o.finished_at > $2::float8
      ),
      gone AS (
        DELETE FROM ${s}.jobs j
        WHERE j.id = ANY (ARRAY(SELECT id FROM victims))
        RETURNING j.id
      )
      SELECT count(*)::int AS n FROM gone`,
  );
}

// ----------------------------------------------------------------- counts

export function counts(ctx: SqlContext): Statement {
  const s = ctx.s;
  return ctx.named(
    "counts",
    `SELECT c.state, sum(c.n)::float8 AS n FROM (
        SELECT state, n FROM ${s}.counts UNION ALL SELECT state, delta FROM ${s}.count_deltas) c
      GROUP BY c.state`,
  );
}

/** Folds the per-statement deltas into the counters; one compactor at a time ($1 lock key). */
export function compactCounts(ctx: SqlContext): Statement {
  const s = ctx.s;
  return ctx.named(
    "compact_counts",
    `WITH l AS (SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS got),
      d AS (DELETE FROM ${s}.count_deltas WHERE (SELECT got FROM l) RETURNING state, delta),
      agg AS (SELECT state, sum(delta) AS delta FROM d GROUP BY state),
      upd AS (UPDATE ${s}.counts c SET n = c.n + agg.delta FROM agg WHERE c.state = agg.state RETURNING 1)
      SELECT (SELECT count(*) FROM upd) AS folded`,
  );
}

// -------------------------------------------------------------- configure

/** $1 names, $2 concurrency, $3 rate limit, $4 rate interval. Upserts in name order; wakes claimers if a limit changed. */
export function configureGroups(ctx: SqlContext): Statement {
  const s = ctx.s;
  return ctx.named(
    "configure_groups",
    `WITH up AS (
        INSERT INTO ${s}.groups AS g (name, concurrency, rate_limit, rate_interval_ms, updated_at)
        SELECT t.name, t.concurrency, t.rate_limit, t.rate_interval_ms, now()
        FROM unnest($1::text[], $2::int[], $3::int[], $4::float8[]) AS t(name, concurrency, rate_limit, rate_interval_ms)
        ORDER BY t.name
        ON CONFLICT (name) DO UPDATE
          SET concurrency = excluded.concurrency, rate_limit = excluded.rate_limit,
              rate_interval_ms = excluded.rate_interval_ms, updated_at = excluded.updated_at
          WHERE (g.concurrency, g.rate_limit, g.rate_interval_ms)
                IS DISTINCT FROM (excluded.concurrency, excluded.rate_limit, excluded.rate_interval_ms)
        RETURNING 1
      ),
      wake AS (${notifyAvailableIf(ctx, "SELECT 1 FROM up")})
      SELECT (SELECT count(*) FROM up) AS changed, (SELECT count(*) FROM wake) AS woke`,
  );
}
