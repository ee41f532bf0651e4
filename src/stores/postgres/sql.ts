import type { Channels } from "./listener.js";
import { quoteIdent, quoteLiteral, schemaTag } from "./identifiers.js";

/** A named prepared statement: pg prepares it once per connection. */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

/** Rows from notify CTEs are chunked so each payload stays well under PostgreSQL's 8000-byte limit. */
const IDS_PER_NOTIFICATION = 300;

const TERMINAL = "('completed', 'failed', 'cancelled')";

/** Columns of a full job snapshot (get, list); JSON columns as text so JSON null and SQL NULL stay distinct. */
export function jobColumns(alias: string): string {
  const a = `${alias}.`;
  return [
    `${a}id::text AS id`,
    `${a}name`,
    `${a}state`,
    `${a}priority`,
    `${a}input::text AS input`,
    `${a}result::text AS result`,
    `${a}error::text AS error`,
    `${a}errors::text AS errors`,
    `${a}attempt`,
    `${a}max_attempts`,
    `${a}progress::text AS progress`,
    `${a}checkpoint::text AS checkpoint`,
    `${a}key`,
    `${a}group_name`,
    `${a}timeout_ms`,
    `${a}backoff::text AS backoff`,
    `${a}created_at`,
    `${a}run_at`,
    `${a}started_at`,
    `${a}finished_at`,
    `${a}last_progress_at`,
    `${a}lease_owner`,
    `${a}lease_expires_at`,
    `${a}cancel_requested`,
    `${a}cancel_reason`,
  ].join(", ");
}

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

/** The error a cancelled job carries (same object as the memory store's). */
function cancelledError(reason: string, note = "NULL::text"): string {
  return `json_build_object('name', 'JobCancelledError', 'code', 'OPTIQ_JOB_CANCELLED', 'message', 'cancelled: ' || ${reason} || coalesce('; ' || ${note}, ''))`;
}

/** The error of a rescued attempt whose lease expired (same object as the memory store's). */
const LEASE_ERROR = `json_build_object('name', 'LeaseExpiredError', 'code', 'OPTIQ_LEASE_LOST', 'message', 'lease expired at attempt ' || j.attempt || ': the worker stopped heartbeating')`;

/** Appends one JSON entry (text) to a json array column, keeping the stored text as is. */
function appendJson(column: string, entryText: string): string {
  return `CASE WHEN ${column} IS NULL THEN ('[' || ${entryText} || ']')::json ELSE (left(${column}::text, -1) || ',' || ${entryText} || ']')::json END`;
}

/**
 * Every SQL statement of the store, schema-qualified. Hot statements are
 * named (prepared once per connection); names carry a tag of the schema so
 * stores on different schemas can share a pool.
 */
export class Sql {
  readonly s: string;
  private readonly tag: string;
  private readonly chan: { available: string; finished: string; cancel: string };

  constructor(schema: string, channels: Channels) {
    this.s = quoteIdent(schema);
    this.tag = schemaTag(schema);
    this.chan = {
      available: quoteLiteral(channels.available),
      finished: quoteLiteral(channels.finished),
      cancel: quoteLiteral(channels.cancel),
    };
  }

  private named(name: string, text: string): Statement {
    return { name: `oq_${this.tag}_${name}`, text };
  }

  /** pg_notify of the finished ids among `rowsSql` (which has columns id, state), chunked. */
  private notifyFinished(rowsSql: string, where: string): string {
    return `SELECT pg_notify(${this.chan.finished}, string_agg(f.id::text, ',' ORDER BY f.id))
      FROM (SELECT r.id, (row_number() OVER (ORDER BY r.id) - 1) / ${IDS_PER_NOTIFICATION} AS chunk
            FROM ${rowsSql} r WHERE ${where}) f
      GROUP BY f.chunk`;
  }

  private notifyAvailableIf(existsSql: string): string {
    return `SELECT pg_notify(${this.chan.available}, '') FROM (${existsSql} LIMIT 1) a`;
  }

  private get limitedGroups(): string {
    return `SELECT coalesce(array_agg(g.name), '{}'::text[]) AS names
      FROM ${this.s}.groups g WHERE g.concurrency IS NOT NULL OR g.rate_limit IS NOT NULL`;
  }

  private get nextRunAt(): string {
    return `(SELECT min(q.run_at) FROM ${this.s}.jobs q WHERE q.state = 'queued' AND q.run_at > $1::float8)`;
  }

  // ---------------------------------------------------------------- enqueue

  /**
   * $1 now, $2..$10 arrays: name, input, priority, run_at, max_attempts,
   * timeout_ms, backoff, key, group_name; with a cap also $11 maxQueued.
   * Ids are drawn in submission order before the insert, so every input row
   * knows its id; rows whose key conflicted come back with a null id and the
   * caller reads the existing ids in a next statement (whose snapshot also
   * sees a conflicting writer that committed while this one waited).
   */
  enqueue(withCap: boolean): Statement {
    const s = this.s;
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
    return this.named(
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
      wake AS (${this.notifyAvailableIf(`SELECT 1 FROM ins`)})
      SELECT i.ord, ins.id::text AS id, i.key, (SELECT count(*) FROM wake) AS woke
        ${withCap ? ", (SELECT yes FROM ok) AS ok, (SELECT queued FROM ok) AS queued" : ""}
      FROM input i LEFT JOIN ins ON ins.id = i.id
      ORDER BY i.ord`,
    );
  }

  /** $1 keys: ids of existing keyed jobs (a fresh snapshot after ON CONFLICT waited for another writer). */
  get idsByKey(): Statement {
    return this.named("ids_by_key", `SELECT id::text AS id, key FROM ${this.s}.jobs WHERE key = ANY ($1::text[])`);
  }

  /** Serialises enqueues that check maxQueued (released at commit). */
  get enqueueLock(): Statement {
    return this.named("enqueue_lock", `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`);
  }

  // ------------------------------------------------------------------ claim

  /**
   * The fast path, one statement: $1 now, $2 worker, $3 names, $4 budgets,
   * $5 limit, $6 leaseMs. Takes the best queued jobs per name (SKIP LOCKED),
   * merges them in claim order up to the limit, and leases them. Jobs of
   * limited groups are never taken here: when any is runnable for these
   * names, `blocked` is true, nothing is claimed, and the caller takes the
   * locking path instead. Always returns at least one row (the meta columns).
   */
  get claimFast(): Statement {
    const s = this.s;
    return this.named(
      "claim_fast",
      `WITH lim AS (${this.limitedGroups}),
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
      picked AS (
        SELECT c.id FROM unnest($3::text[], $4::int[]) AS nb(name, budget)
        CROSS JOIN LATERAL (
          SELECT j.id, j.priority, j.run_at FROM ${s}.jobs j
          WHERE j.state = 'queued' AND j.name = nb.name AND j.run_at <= $1::float8
            AND (j.group_name IS NULL OR j.group_name <> ALL ((SELECT names FROM lim)::text[]))
            AND NOT (SELECT yes FROM blocked)
          ORDER BY j.priority DESC, j.run_at, j.id
          LIMIT least(nb.budget, $5::int)
          FOR UPDATE SKIP LOCKED
        ) c
        ORDER BY c.priority DESC, c.run_at, c.id
        LIMIT $5::int
      ),
      claimed AS (
        UPDATE ${s}.jobs j
        SET state = 'running', attempt = j.attempt + 1, started_at = $1::float8, last_progress_at = NULL,
            lease_owner = $2::text, lease_expires_at = $1::float8 + $6::float8
        WHERE j.id = ANY (ARRAY(SELECT id FROM picked))
        RETURNING ${CLAIMED_COLUMNS}
      )
      SELECT c.*, b.yes AS blocked, ${this.nextRunAt} AS next_run_at
      FROM blocked b LEFT JOIN claimed c ON true`,
    );
  }

  /**
   * Locking path, step 1 (inside a transaction): locks, in name order, the
   * limited groups that have runnable jobs for these names. $1 names, $2 now.
   * Claimers of the same group queue here; the next statement then sees
   * every claim committed before the lock was granted.
   */
  get lockGroups(): Statement {
    const s = this.s;
    return this.named(
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
  get claimCandidates(): Statement {
    const s = this.s;
    return this.named(
      "claim_candidates",
      `WITH lim AS (${this.limitedGroups}),
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
      SELECT 'next', NULL, NULL, NULL, NULL, ${this.nextRunAt}, NULL, NULL, NULL, NULL`,
    );
  }

  /**
   * Locking path, step 3: leases the chosen ids and records rate-limit starts
   * for the rate-limited locked groups (pruning starts older than the window).
   * $1 now, $2 worker, $3 leaseMs, $4 ids, $5 rate-limited locked groups.
   */
  get claimIds(): Statement {
    const s = this.s;
    return this.named(
      "claim_ids",
      `WITH claimed AS (
        UPDATE ${s}.jobs j
        SET state = 'running', attempt = j.attempt + 1, started_at = $1::float8, last_progress_at = NULL,
            lease_owner = $2::text, lease_expires_at = $1::float8 + $3::float8
        WHERE j.id = ANY ($4::bigint[])
        RETURNING ${CLAIMED_COLUMNS}
      ),
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
  get nextRun(): Statement {
    return this.named("next_run", `SELECT ${this.nextRunAt} AS next_run_at`);
  }

  // -------------------------------------------------------------- heartbeat

  /**
   * Locks, in id order, the rows of `input` (a CTE with columns id, attempt)
   * still running under this worker at that attempt ($1 is the worker).
   * Each row is fetched by primary key inside a fenced LATERAL subquery
   * (OFFSET 0), so the plan stays an index lookup per entry even as a cached
   * generic plan (which assumes ten entries, and would otherwise pick a
   * nested loop over the running set: quadratic for a batch of 500); the
   * guard is evaluated on the locked, latest row version.
   */
  private guarded(input: string, extra: string): string {
    return `SELECT i.*, c.cancel_requested, c.cancel_reason${extra}
      FROM (SELECT * FROM ${input} ORDER BY id) i
      CROSS JOIN LATERAL (
        SELECT j.state, j.lease_owner, j.attempt, j.cancel_requested, j.cancel_reason
        FROM ${this.s}.jobs j WHERE j.id = i.id
        OFFSET 0
        FOR NO KEY UPDATE
      ) c
      WHERE c.state = 'running' AND c.lease_owner = $1::text AND c.attempt = i.attempt`;
  }

  /**
   * $1 worker, $2 now, $3 leaseMs, $4 ids, $5 attempts, $6 hasProgress,
   * $7 progress, $8 hasCheckpoint, $9 checkpoint. Returns the entries still
   * held (the others are lost).
   */
  get heartbeat(): Statement {
    const s = this.s;
    return this.named(
      "heartbeat",
      `WITH e AS (
        SELECT * FROM unnest($4::bigint[], $5::int[], $6::bool[], $7::text[], $8::bool[], $9::text[])
          AS e(id, attempt, has_p, p, has_c, c)
      ),
      held AS (${this.guarded("e", "")}),
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

  // ----------------------------------------------------------------- settle

  /**
   * $1 worker, $2 now, $3 ids, $4 attempts, $5 kinds, $6 results, $7 errors,
   * $8 attempt-error entries (JSON text), $9 retry runAt, $10 cancel reasons,
   * $11 cancel notes.
   * Guarded per row; a requested cancel turns any outcome into cancelled.
   * Returns the settlements applied, with the new state.
   */
  get settle(): Statement {
    const s = this.s;
    const eff = `(CASE WHEN j.cancel_requested THEN 'cancelled' ELSE x.kind END)`;
    const reason = `(CASE WHEN j.cancel_requested THEN coalesce(j.cancel_reason, 'cancelled') ELSE x.reason END)`;
    return this.named(
      "settle",
      `WITH input AS (
        SELECT * FROM unnest($3::bigint[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::float8[], $10::text[], $11::text[])
          AS x(id, attempt, kind, result, error, entry, run_at, reason, note)
      ),
      held AS (${this.guarded("input", "")}),
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
        ${this.notifyFinished("done", "r.state <> 'queued'")}
        UNION ALL
        ${this.notifyAvailableIf(`SELECT 1 FROM done d WHERE d.group_name IS NOT NULL OR (d.state = 'queued' AND d.run_at <= $2::float8)`)}
      )
      SELECT done.id::text AS id, done.attempt, done.state, (SELECT count(*) FROM notes) AS notified FROM done`,
    );
  }

  /**
   * $1 worker, $2 now, $3 ids, $4 attempts: claimed jobs the worker will not
   * start go back to the queue with their attempt undone (a requested cancel
   * ends them cancelled instead). Returns the rows changed.
   */
  get release(): Statement {
    const s = this.s;
    const reason = `coalesce(j.cancel_reason, 'cancelled')`;
    return this.named(
      "release",
      `WITH input AS (SELECT * FROM unnest($3::bigint[], $4::int[]) AS x(id, attempt)),
      held AS (${this.guarded("input", "")}),
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
        ${this.notifyFinished("done", "r.state = 'cancelled'")}
        UNION ALL
        ${this.notifyAvailableIf(`SELECT 1 FROM done d WHERE d.state = 'queued'`)}
      )
      SELECT done.id::text AS id, done.state, (SELECT count(*) FROM notes) AS notified FROM done`,
    );
  }

  /** $1 ids: current states (for settlements the guard refused). */
  get states(): Statement {
    return this.named("states", `SELECT id::text AS id, state FROM ${this.s}.jobs WHERE id = ANY ($1::bigint[])`);
  }

  // ----------------------------------------------------------------- cancel

  /** $1 id, $2 reason, $3 now. */
  get cancel(): Statement {
    const s = this.s;
    return this.named(
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
        SELECT pg_notify(CASE WHEN c.state = 'cancelled' THEN ${this.chan.finished} ELSE ${this.chan.cancel} END, c.id::text)
        FROM c
      )
      SELECT (SELECT state FROM c) AS new_state,
             (SELECT state FROM ${s}.jobs WHERE id = $1::bigint) AS old_state,
             (SELECT count(*) FROM notes) AS notified`,
    );
  }

  // ----------------------------------------------------------------- rescue

  /** $1 now, $2 limit. */
  get rescue(): Statement {
    const s = this.s;
    const entry = `json_build_object('attempt', j.attempt, 'at', $1::float8, 'error', ${LEASE_ERROR})::text`;
    return this.named(
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
        ${this.notifyFinished("rescued", "r.state <> 'queued'")}
        UNION ALL
        ${this.notifyAvailableIf("SELECT 1 FROM rescued")}
      )
      SELECT r.id::text AS id, r.state, (SELECT count(*) FROM notes) AS notified
      FROM rescued r
      ORDER BY r.started_at, r.id`,
    );
  }

  // ------------------------------------------------------------- retention

  /**
   * $1 now, $2 maxAgeMs, $3 maxCount, $4 batch. Deletes up to a batch of the
   * oldest finished jobs that are beyond the count or older than the age.
   */
  get prune(): Statement {
    const s = this.s;
    return this.named(
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

  get counts(): Statement {
    const s = this.s;
    return this.named(
      "counts",
      `SELECT c.state, sum(c.n)::float8 AS n FROM (
        SELECT state, n FROM ${s}.counts UNION ALL SELECT state, delta FROM ${s}.count_deltas) c
      GROUP BY c.state`,
    );
  }

  /** Folds the per-statement deltas into the counters; one compactor at a time ($1 lock key). */
  get compactCounts(): Statement {
    const s = this.s;
    return this.named(
      "compact_counts",
      `WITH l AS (SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS got),
      d AS (DELETE FROM ${s}.count_deltas WHERE (SELECT got FROM l) RETURNING state, delta),
      agg AS (SELECT state, sum(delta) AS delta FROM d GROUP BY state),
      upd AS (UPDATE ${s}.counts c SET n = c.n + agg.delta FROM agg WHERE c.state = agg.state RETURNING 1)
      SELECT (SELECT count(*) FROM upd) AS folded`,
    );
  }

  // ------------------------------------------------------------------ reads

  get get(): Statement {
    return this.named("get", `SELECT ${jobColumns("j")} FROM ${this.s}.jobs j WHERE j.id = $1::bigint`);
  }

  /** Builds a list query with only the filters given (not prepared: the shapes vary). */
  list(filters: { state: boolean; name: boolean; group: boolean; beforeId: boolean }): { text: string } {
    const where: string[] = [];
    let n = 1;
    if (filters.state) where.push(`j.state = $${++n}`);
    if (filters.name) where.push(`j.name = $${++n}`);
    if (filters.group) where.push(`j.group_name = $${++n}`);
    if (filters.beforeId) where.push(`j.id < $${++n}::bigint`);
    return {
      text: `SELECT ${jobColumns("j")} FROM ${this.s}.jobs j
        ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
        ORDER BY j.id DESC LIMIT $1::int`,
    };
  }

  // -------------------------------------------------------------- configure

  /** $1 names, $2 concurrency, $3 rate limit, $4 rate interval. Upserts in name order; wakes claimers if a limit changed. */
  get configureGroups(): Statement {
    const s = this.s;
    return this.named(
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
      wake AS (${this.notifyAvailableIf("SELECT 1 FROM up")})
      SELECT (SELECT count(*) FROM up) AS changed, (SELECT count(*) FROM wake) AS woke`,
    );
  }
}
