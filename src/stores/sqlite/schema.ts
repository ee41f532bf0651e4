import type Database from "better-sqlite3";
import { StoreError } from "../../core/errors.js";

/**
 * Numbered migrations: MIGRATIONS[i] takes a file from schema version i to
 * i + 1 (`PRAGMA user_version`). Append only; never edit a released one.
 *
 * Index notes:
 * - jobs_runnable is the runnable set, per name so a worker's claim never
 *   walks other names' jobs; group_name rides along so skipping a blocked
 *   group reads the index only. Finished and running jobs are not in it, so
 *   claims cost the same with ten or ten million finished jobs.
 * - jobs_due answers "earliest delayed job of this name" in one seek.
 * - jobs_leases serves rescue, jobs_group_running the shared group
 *   concurrency count, jobs_finished retention (finished_at is set exactly
 *   when a job reaches a terminal state).
 */
export const MIGRATIONS: readonly string[] = [
  /* 1: initial schema */ `
CREATE TABLE jobs (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  name             TEXT    NOT NULL,
  state            TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  priority         INTEGER NOT NULL,
  input            TEXT    NOT NULL,
  result           TEXT,
  error            TEXT,
  errors           TEXT,
  attempt          INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL,
  progress         TEXT,
  checkpoint       TEXT,
  key              TEXT,
  group_name       TEXT,
  timeout_ms       INTEGER,
  backoff          TEXT    NOT NULL,
  created_at       INTEGER NOT NULL,
  run_at           INTEGER NOT NULL,
  started_at       INTEGER,
  finished_at      INTEGER,
  last_progress_at INTEGER,
  lease_owner      TEXT,
  lease_expires_at INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  cancel_reason    TEXT
);
CREATE UNIQUE INDEX jobs_key ON jobs (key) WHERE key IS NOT NULL;
CREATE INDEX jobs_runnable ON jobs (name, priority DESC, run_at, id, group_name) WHERE state = 'queued';
CREATE INDEX jobs_due ON jobs (name, run_at) WHERE state = 'queued';
CREATE INDEX jobs_leases ON jobs (lease_expires_at, id) WHERE state = 'running';
CREATE INDEX jobs_group_running ON jobs (group_name) WHERE state = 'running' AND group_name IS NOT NULL;
CREATE INDEX jobs_finished ON jobs (finished_at, id) WHERE finished_at IS NOT NULL;

-- jobs per state, kept in the same transactions as the jobs themselves
CREATE TABLE counts (
  state TEXT PRIMARY KEY,
  n     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counts (state, n) VALUES ('queued', 0), ('running', 0), ('completed', 0), ('failed', 0), ('cancelled', 0);

-- group limits from configure(), shared by every process on the file
CREATE TABLE groups (
  name             TEXT PRIMARY KEY,
  concurrency      INTEGER,
  rate_limit       INTEGER,
  rate_interval_ms INTEGER
) WITHOUT ROWID;

-- claim times of rate-limited groups; rows older than the interval are pruned
CREATE TABLE group_starts (
  group_name TEXT    NOT NULL,
  started_at INTEGER NOT NULL
);
CREATE INDEX group_starts_by_group ON group_starts (group_name, started_at);

-- change feed for other processes' listeners (origin = writing store instance)
CREATE TABLE events (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  at     INTEGER NOT NULL,
  origin TEXT    NOT NULL,
  kind   TEXT    NOT NULL,
  ids    TEXT
);
`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the file to SCHEMA_VERSION. The version is read again inside one
 * IMMEDIATE transaction, so processes opening a fresh file at once apply each
 * migration exactly once (the others wait on busy_timeout, then see it done).
 */
export function migrate(db: Database.Database): void {
  const readVersion = (): number => db.pragma("user_version", { simple: true }) as number;
  if (readVersion() === SCHEMA_VERSION) return;
  db.transaction(() => {
    const from = readVersion();
    if (from > SCHEMA_VERSION) {
      throw new StoreError(
        `the database has schema version ${from}, newer than this optiq knows (${SCHEMA_VERSION}); upgrade optiq`,
      );
    }
    for (let v = from; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}
