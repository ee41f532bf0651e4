/** Claim statements: the fast path, the three steps of the locking path (limited groups), the next run time. */

import type { SqlContext, Statement } from "./shared.js";

const CLAIMED_COLUMNS = [
  "j.id::text AS id",
  "j.name",
  "j.input::text AS input",
  "j.attempt",
  "j.max_attempts",
  "j.priority",
  "j.timeout_ms",
  "j.backoff::text AS backoff",
  "j.key",
  "j.group_name",
  "j.created_at",
  "j.run_at",
  "j.checkpoint::text AS checkpoint",
  "j.lease_expires_at",
].join(", ");

function limitedGroups(ctx: SqlContext): string {
  return `SELECT coalesce(array_agg(g.name), '{}'::text[]) AS names
      FROM ${ctx.s}.groups g WHERE g.concurrency IS NOT NULL OR g.rate_limit IS NOT NULL`;
}

function nextRunAt(ctx: SqlContext): string {
  return `(SELECT min(q.run_at) FROM ${ctx.s}.jobs q WHERE q.state = 'queued' AND q.run_at > $1::float8)`;
}

/**
 * The best queued jobs per name (SKIP LOCKED), merged in claim order up to
 * the limit ($1 now, $3 names, $4 budgets, $5 limit), among the rows that
 * also pass `where`: the `picked` CTE of the fast paths.
 */
function picked(ctx: SqlContext, where: string): string {
  return `picked AS (
        SELECT c.id FROM unnest($3::text[], $4::int[]) AS nb(name, budget)
        CROSS JOIN LATERAL (
          SELECT j.id, j.priority, j.run_at FROM ${ctx.s}.jobs j
          WHERE j.state = 'queued' AND j.name = nb.name AND j.run_at <= $1::float8
            ${where}
          ORDER BY j.priority DESC, j.run_at, j.id
          LIMIT least(nb.budget, $5::int)
          FOR UPDATE SKIP LOCKED
        ) c
        ORDER BY c.priority DESC, c.run_at, c.id
        LIMIT $5::int
      )`;
}

/**
 * Leases the jobs whose ids `ids` gives to $2 from $1 for `leaseMs` ms: the
 * `claimed` CTE of every claim statement.
 */
function claimed(ctx: SqlContext, ids: string, leaseMs: string): string {
  return `claimed AS (
        UPDATE ${ctx.s}.jobs j
        SET state = 'running', attempt = j.attempt + 1, started_at = $1::float8, last_progress_at = NULL,
            lease_owner = $2::text, lease_expires_at = $1::float8 + ${leaseMs}::float8
        WHERE j.id = ANY (${ids})
        RETURNING ${CLAIMED_COLUMNS}
      )`;
}

/** What the fast paths lease: the ids their `picked` CTE chose. */
const FAST_IDS = "ARRAY(SELECT id FROM picked)";

/**
 * The fast path while no group has a fleet-wide limit (the usual case), one
 * statement: $1 now, $2 worker, $3 names, $4 budgets, $5 limit, $6 leaseMs.
 * PostgreSQL makes a custom plan for every claim (a generic one, made once,
 * can be disastrous for a table that has grown since), and without the
 * limited groups' lanes to probe this one plans faster than claimFast
 * (~0.3 vs ~0.5 ms by EXPLAIN's planning time), on the path of every
 * pickup. If any group
 * has a limit (read in the statement's snapshot, as claimFast reads them),
 * nothing is claimed and `blocked` is true: the caller claims with
 * claimFast. Always returns at least one row (the meta columns).
 */
export function claimUnlimited(ctx: SqlContext): Statement {
  return ctx.named(
    "claim_unlimited",
    `WITH limited AS (
        SELECT EXISTS (SELECT 1 FROM ${ctx.s}.groups g WHERE g.concurrency IS NOT NULL OR g.rate_limit IS NOT NULL) AS yes
      ),
      ${picked(ctx, "AND NOT (SELECT yes FROM limited)")},
      ${claimed(ctx, FAST_IDS, "$6")}
      SELECT c.*, l.yes AS blocked, ${nextRunAt(ctx)} AS next_run_at
      FROM limited l LEFT JOIN claimed c ON true`,
  );
}

/**
 * The fast path once some group has a fleet-wide limit, one statement:
 * parameters as claimUnlimited. Jobs of limited groups are never taken
 * here: when any is runnable for these names, `blocked` is true, nothing is
 * claimed, and the caller takes the locking path instead. `limited_groups`
 * counts the groups with a limit (0: claimUnlimited will do again). Always
 * returns at least one row (the meta columns).
 */
export function claimFast(ctx: SqlContext): Statement {
  const s = ctx.s;
  return ctx.named(
    "claim_fast",
    `WITH lim AS (${limitedGroups(ctx)}),
      blocked AS (
        -- one probe per limited group (none when there are none), on the group lanes'
        -- index: never a walk over the whole runnable set
        SELECT EXISTS (
          SELECT 1 FROM unnest((SELECT names FROM lim)::text[]) AS g(name)
          CROSS JOIN LATERAL (
            SELECT 1 FROM ${s}.jobs j
            WHERE j.state = 'queued' AND j.group_name IS NOT NULL AND j.group_name = g.name
              AND j.name = ANY ($3::text[]) AND j.run_at <= $1::float8
            LIMIT 1
          ) x
        ) AS yes
      ),
      ${picked(
        ctx,
        `AND (j.group_name IS NULL OR j.group_name <> ALL ((SELECT names FROM lim)::text[]))
            AND NOT (SELECT yes FROM blocked)`,
      )},
      ${claimed(ctx, FAST_IDS, "$6")}
      SELECT c.*, b.yes AS blocked, ${nextRunAt(ctx)} AS next_run_at,
        (SELECT cardinality(names) FROM lim) AS limited_groups
      FROM blocked b LEFT JOIN claimed c ON true`,
  );
}

/**
 * Locking path, step 1 (inside a transaction): locks, in name order, the
 * limited groups that have runnable jobs for these names. $1 names, $2 now.
 * Claimers of the same group queue here; the next statement then sees
 * every claim committed before the lock was granted.
 */
export function lockGroups(ctx: SqlContext): Statement {
  const s = ctx.s;
  return ctx.named(
    "lock_groups",
    `SELECT g.name FROM ${s}.groups g
      WHERE (g.concurrency IS NOT NULL OR g.rate_limit IS NOT NULL)
        AND EXISTS (SELECT 1 FROM ${s}.jobs j
                    WHERE j.state = 'queued' AND j.group_name = g.name
                      AND j.name = ANY ($1::text[]) AND j.run_at <= $2::float8)
      ORDER BY g.name
      FOR NO KEY UPDATE OF g`,
  );
}

/**
 * Locking path, step 2: budgets of the locked groups (free slots fleet-wide,
 * rate-limit tokens in the window ending now) and candidate jobs, locked
 * SKIP LOCKED: per name the best unlimited jobs, and per (name, locked
 * group) lane the best jobs up to the group's budget. $1 now, $2 names,
 * $3 budgets, $4 limit, $5 locked groups. Rows of kind 'job', 'group'
 * (with the window's starts, newest first, for the next opening) and one
 * 'next' row (the earliest delayed job).
 */
export function claimCandidates(ctx: SqlContext): Statement {
  const s = ctx.s;
  return ctx.named(
    "claim_candidates",
    `WITH lim AS (${limitedGroups(ctx)}),
      gb AS (
        SELECT g.name,
          CASE WHEN g.concurrency IS NULL THEN NULL ELSE
            g.concurrency - (SELECT count(*) FROM ${s}.jobs r WHERE r.state = 'running' AND r.group_name = g.name) END AS slots,
          CASE WHEN g.rate_limit IS NULL THEN NULL ELSE
            g.rate_limit - (SELECT count(*) FROM ${s}.group_starts t
                            WHERE t.group_name = g.name AND $1::float8 - t.at < g.rate_interval_ms) END AS tokens,
          CASE WHEN g.rate_limit IS NULL THEN NULL ELSE
            ARRAY(SELECT t.at FROM ${s}.group_starts t
                  WHERE t.group_name = g.name AND $1::float8 - t.at < g.rate_interval_ms
                  ORDER BY t.at DESC LIMIT g.rate_limit) END AS starts,
          g.rate_limit, g.rate_interval_ms
        FROM ${s}.groups g
        WHERE g.name = ANY ($5::text[]) AND (g.concurrency IS NOT NULL OR g.rate_limit IS NOT NULL)
      ),
      gbb AS (
        SELECT gb.*, greatest(0, least(coalesce(gb.slots, 2147483647), coalesce(gb.tokens, 2147483647)))::int AS budget
        FROM gb
      ),
      nb AS (SELECT * FROM unnest($2::text[], $3::int[]) AS nb(name, budget)),
      cand AS (
        SELECT c.* FROM nb CROSS JOIN LATERAL (
          SELECT j.id, j.name, NULL::text AS grp, j.priority, j.run_at FROM ${s}.jobs j
          WHERE j.state = 'queued' AND j.name = nb.name AND j.run_at <= $1::float8
            AND (j.group_name IS NULL OR j.group_name <> ALL ((SELECT names FROM lim)::text[]))
          ORDER BY j.priority DESC, j.run_at, j.id
          LIMIT least(nb.budget, $4::int)
          FOR UPDATE SKIP LOCKED
        ) c
        UNION ALL
        SELECT c.* FROM nb CROSS JOIN gbb CROSS JOIN LATERAL (
          SELECT j.id, j.name, j.group_name AS grp, j.priority, j.run_at FROM ${s}.jobs j
          WHERE j.state = 'queued' AND j.group_name = gbb.name AND j.name = nb.name AND j.run_at <= $1::float8
          ORDER BY j.priority DESC, j.run_at, j.id
          LIMIT least(nb.budget, gbb.budget, $4::int)
          FOR UPDATE SKIP LOCKED
        ) c
        WHERE gbb.budget > 0
      )
      SELECT 'job' AS kind, id::text AS id, name, grp, priority, run_at, NULL::int AS budget,
             NULL::float8[] AS starts, NULL::int AS rate_limit, NULL::float8 AS rate_interval_ms FROM cand
      UNION ALL
      SELECT 'group', NULL, name, NULL, NULL, NULL, budget, starts, rate_limit, rate_interval_ms FROM gbb
      UNION ALL
      SELECT 'next', NULL, NULL, NULL, NULL, ${nextRunAt(ctx)}, NULL, NULL, NULL, NULL`,
  );
}

/**
 * Locking path, step 3: leases the chosen ids and records rate-limit starts
 * for the rate-limited locked groups (pruning starts older than the window).
 * $1 now, $2 worker, $3 leaseMs, $4 ids, $5 rate-limited locked groups.
 */
export function claimIds(ctx: SqlContext): Statement {
  const s = ctx.s;
  return ctx.named(
    "claim_ids",
    `WITH ${claimed(ctx, "$4::bigint[]", "$3")},
      starts AS (
        INSERT INTO ${s}.group_starts (group_name, at)
        SELECT c.group_name, $1::float8 FROM claimed c WHERE c.group_name = ANY ($5::text[])
      ),
      expired AS (
        DELETE FROM ${s}.group_starts t USING ${s}.groups g
        WHERE t.group_name = g.name AND g.name = ANY ($5::text[]) AND $1::float8 - t.at >= g.rate_interval_ms
      )
      SELECT * FROM claimed`,
  );
}

/** $1 now: the earliest delayed job's runAt. */
export function nextRun(ctx: SqlContext): Statement {
  return ctx.named("next_run", `SELECT ${nextRunAt(ctx)} AS next_run_at`);
}
