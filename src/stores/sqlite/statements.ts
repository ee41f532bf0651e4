import type Database from "better-sqlite3";
import type { JobState } from "../../core/states.js";
import type { ClaimedColumn } from "../../store/job-row.js";

/** A jobs row as SQLite returns it (JSON payloads still as text). */
export interface JobRow {
  id: number;
  name: string;
  state: JobState;
  priority: number;
  input: string;
  result: string | null;
  error: string | null;
  errors: string | null;
  attempt: number;
  max_attempts: number;
  progress: string | null;
  checkpoint: string | null;
  key: string | null;
  group_name: string | null;
  timeout_ms: number | null;
  backoff: string;
  created_at: number;
  run_at: number;
  started_at: number | null;
  finished_at: number | null;
  last_progress_at: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  cancel_requested: number;
  cancel_reason: string | null;
}

export type ClaimedRow = Pick<JobRow, ClaimedColumn>;

/** What settle and rescue read before deciding the next state. */
export type LeaseRow = Pick<
  JobRow,
  | "id"
  | "state"
  | "lease_owner"
  | "attempt"
  | "max_attempts"
  | "cancel_requested"
  | "cancel_reason"
  | "group_name"
  | "errors"
>;

export interface RunnableRow {
  id: number;
  priority: number;
  run_at: number;
  group_name: string | null;
}

export interface GroupRow {
  concurrency: number | null;
  rate_limit: number | null;
  rate_interval_ms: number | null;
}

export interface EventRow {
  id: number;
  origin: string;
  kind: "available" | "finished" | "cancel";
  ids: string | null;
}

export interface Guard {
  id: number;
  owner: string;
  attempt: number;
  now: number;
}

const LEASE_COLUMNS =
  "id, state, lease_owner, attempt, max_attempts, cancel_requested, cancel_reason, group_name, errors";
const GUARD = "id = @id AND state = 'running' AND lease_owner = @owner AND attempt = @attempt";
const RELEASE = "lease_owner = NULL, lease_expires_at = NULL";

type Params = unknown[] | object;

type Args<P extends Params> = P extends unknown[] ? P : [P];

/** The part of a prepared statement the store uses, typed with its parameters and row shape. */
export interface Stmt<P extends Params = [], R = unknown> {
  run(...params: Args<P>): Database.RunResult;
  get(...params: Args<P>): R | undefined;
  all(...params: Args<P>): R[];
}

function prep<P extends Params = [], R = unknown>(db: Database.Database, sql: string): Stmt<P, R> {
  return db.prepare(sql) as unknown as Stmt<P, R>;
}

/** A statement returning the first column's value only. */
function pluck<P extends Params = [], R = unknown>(db: Database.Database, sql: string): Stmt<P, R> {
  return db.prepare(sql).pluck() as unknown as Stmt<P, R>;
}

/** Every statement the store runs, prepared once per connection. */
export function prepareStatements(db: Database.Database) {
  return {
    dataVersion: pluck<[], number>(db, "PRAGMA data_version"),

    // ---- counts
    counts: prep<[], { state: JobState; n: number }>(db, "SELECT state, n FROM counts"),
    countOf: pluck<[JobState], number>(db, "SELECT n FROM counts WHERE state = ?"),
    finishedCount: pluck<[], number | null>(
      db,
      "SELECT sum(n) FROM counts WHERE state IN ('completed', 'failed', 'cancelled')",
    ),
    addCount: prep<[number, JobState]>(db, "UPDATE counts SET n = n + ? WHERE state = ?"),

    // ---- enqueue
    idByKey: pluck<[string], number>(db, "SELECT id FROM jobs WHERE key = ?"),
    insert: prep<[string, number, string, number, string | null, string | null, number | null, string, number, number]>(
      db,
      `INSERT INTO jobs (name, state, priority, input, max_attempts, key, group_name, timeout_ms, backoff, created_at, run_at)
       VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    ),

    // ---- claim
    nextDue: pluck<[string, number], number | null>(
      db,
      "SELECT min(run_at) FROM jobs WHERE state = 'queued' AND name = ? AND run_at > ?",
    ),
    runnable: prep<{ name: string; now: number; excluded: string; limit: number }, RunnableRow>(
      db,
      `SELECT id, priority, run_at, group_name FROM jobs INDEXED BY jobs_runnable
       WHERE state = 'queued' AND name = @name AND run_at <= @now
         AND (group_name IS NULL OR group_name NOT IN (SELECT value FROM json_each(@excluded)))
       ORDER BY priority DESC, run_at, id
       LIMIT @limit`,
    ),
    /** Leases the jobs whose ids are in the JSON array (all read as queued in this transaction). */
    lease: prep<[number, string, number, string], ClaimedRow>(
      db,
      `UPDATE jobs SET state = 'running', attempt = attempt + 1, started_at = ?, last_progress_at = NULL,
         lease_owner = ?, lease_expires_at = ?
       WHERE id IN (SELECT value FROM json_each(?)) AND state = 'queued'
       RETURNING id, name, input, attempt, max_attempts, priority, timeout_ms, backoff, key, group_name,
         created_at, run_at, checkpoint, lease_expires_at`,
    ),
    group: prep<[string], GroupRow>(db, "SELECT concurrency, rate_limit, rate_interval_ms FROM groups WHERE name = ?"),
    groupRunning: pluck<[string], number>(db, "SELECT count(*) FROM jobs WHERE state = 'running' AND group_name = ?"),
    dropStarts: prep<[string, number]>(db, "DELETE FROM group_starts WHERE group_name = ? AND started_at <= ?"),
    startsSince: pluck<[string, number], number>(
      db,
      "SELECT count(*) FROM group_starts WHERE group_name = ? AND started_at > ?",
    ),
    /** The limit-th most recent start: the window reopens intervalMs after it. */
    nthLatestStart: pluck<[string, number], number>(
      db,
      "SELECT started_at FROM group_starts WHERE group_name = ? ORDER BY started_at DESC LIMIT 1 OFFSET ?",
    ),
    addStart: prep<[string, number]>(db, "INSERT INTO group_starts (group_name, started_at) VALUES (?, ?)"),
    upsertGroup: prep<[string, number | null, number | null, number | null]>(
      db,
      `INSERT INTO groups (name, concurrency, rate_limit, rate_interval_ms) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET concurrency = excluded.concurrency, rate_limit = excluded.rate_limit,
         rate_interval_ms = excluded.rate_interval_ms`,
    ),

    // ---- heartbeat
    heartbeat: prep<
      {
        id: number;
        owner: string;
        attempt: number;
        now: number;
        expires: number;
        hasProgress: number;
        progress: string | null;
        hasCheckpoint: number;
        checkpoint: string | null;
      },
      { cancel_requested: number }
    >(
      db,
      `UPDATE jobs SET lease_expires_at = @expires,
         progress = CASE WHEN @hasProgress THEN @progress ELSE progress END,
         last_progress_at = CASE WHEN @hasProgress THEN @now ELSE last_progress_at END,
         checkpoint = CASE WHEN @hasCheckpoint THEN @checkpoint ELSE checkpoint END
       WHERE ${GUARD}
       RETURNING cancel_requested`,
    ),

    // ---- settle / rescue (all guarded: running, leased by owner, at attempt)
    leaseRow: prep<[number], LeaseRow>(db, `SELECT ${LEASE_COLUMNS} FROM jobs WHERE id = ?`),
    expired: prep<[number, number], LeaseRow>(
      db,
      `SELECT ${LEASE_COLUMNS} FROM jobs
       WHERE state = 'running' AND lease_expires_at <= ?
       ORDER BY lease_expires_at, id
       LIMIT ?`,
    ),
    /**
     * The common settle in one statement: completes every job of the JSON
     * array [[id, attempt, resultJson], ...] that is running, leased by owner,
     * at that attempt and not asked to cancel. The rest take the slow path.
     */
    completeMany: prep<{ batch: string; owner: string; now: number }, { id: number; group_name: string | null }>(
      db,
      `UPDATE jobs SET state = 'completed', result = s.value ->> '$[2]', finished_at = @now, ${RELEASE}
       FROM json_each(@batch) AS s
       WHERE jobs.id = s.value ->> '$[0]' AND jobs.attempt = s.value ->> '$[1]'
         AND jobs.state = 'running' AND jobs.lease_owner = @owner AND jobs.cancel_requested = 0
       RETURNING jobs.id, jobs.group_name`,
    ),
    complete: prep<Guard & { result: string | null }>(
      db,
      `UPDATE jobs SET state = 'completed', result = @result, finished_at = @now, ${RELEASE} WHERE ${GUARD}`,
    ),
    fail: prep<Guard & { error: string; errors: string }>(
      db,
      `UPDATE jobs SET state = 'failed', error = @error, errors = @errors, finished_at = @now, ${RELEASE}
       WHERE ${GUARD}`,
    ),
    retry: prep<Guard & { error: string; errors: string; runAt: number }>(
      db,
      `UPDATE jobs SET state = 'queued', error = @error, errors = @errors, run_at = @runAt, ${RELEASE}
       WHERE ${GUARD}`,
    ),
    releaseClaim: prep<Guard>(
      db,
      `UPDATE jobs SET state = 'queued', attempt = attempt - 1, started_at = NULL, ${RELEASE}
       WHERE ${GUARD} AND cancel_requested = 0`,
    ),
    cancelRunning: prep<Guard & { reason: string; error: string }>(
      db,
      `UPDATE jobs SET state = 'cancelled', cancel_reason = @reason, error = @error, finished_at = @now, ${RELEASE}
       WHERE ${GUARD}`,
    ),

    // ---- cancel
    stateOf: prep<[number], { state: JobState; cancel_requested: number }>(
      db,
      "SELECT state, cancel_requested FROM jobs WHERE id = ?",
    ),
    cancelQueued: prep<{ id: number; now: number; reason: string; error: string }>(
      db,
      `UPDATE jobs SET state = 'cancelled', cancel_reason = @reason, error = @error, finished_at = @now
       WHERE id = @id AND state = 'queued'`,
    ),
    requestCancel: prep<[string, number]>(
      db,
      "UPDATE jobs SET cancel_requested = 1, cancel_reason = ? WHERE id = ? AND state = 'running' AND cancel_requested = 0",
    ),

    // ---- retention
    dropOldest: prep<[number], { state: JobState }>(
      db,
      `DELETE FROM jobs WHERE id IN (
         SELECT id FROM jobs WHERE finished_at IS NOT NULL ORDER BY finished_at, id LIMIT ?
       ) RETURNING state`,
    ),
    dropOlderThan: prep<[number, number], { state: JobState }>(
      db,
      `DELETE FROM jobs WHERE id IN (
         SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < ? ORDER BY finished_at, id LIMIT ?
       ) RETURNING state`,
    ),

    // ---- reads
    get: prep<[number], JobRow>(db, "SELECT * FROM jobs WHERE id = ?"),
    list: prep<
      { before: number; state: string | null; name: string | null; group: string | null; limit: number },
      JobRow
    >(
      db,
      `SELECT * FROM jobs
       WHERE id < @before
         AND (@state IS NULL OR state = @state)
         AND (@name IS NULL OR name = @name)
         AND (@group IS NULL OR group_name = @group)
       ORDER BY id DESC
       LIMIT @limit`,
    ),

    // ---- change feed
    addEvent: prep<[number, string, string, string | null]>(
      db,
      "INSERT INTO events (at, origin, kind, ids) VALUES (?, ?, ?, ?)",
    ),
    eventsAfter: prep<[number, number], EventRow>(
      db,
      "SELECT id, origin, kind, ids FROM events WHERE id > ? ORDER BY id LIMIT ?",
    ),
    lastEventId: pluck<[], number>(db, "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)"),
    dropEvents: prep<[number, number]>(
      db,
      "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?) AND at < ?",
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
