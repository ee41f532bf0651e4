-- optiq PostgreSQL schema, version 1.
-- {{schema}} is replaced by the quoted schema name; every object is schema-qualified.
-- Times are epoch milliseconds as double precision: the port speaks JS numbers
-- (IEEE doubles, possibly fractional) and takes `now` from the caller, so the
-- column type holds exactly what the caller passed.

CREATE TABLE {{schema}}.jobs (
  id               bigserial PRIMARY KEY,
  name             text NOT NULL,
  state            text NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  priority         integer NOT NULL DEFAULT 0,
  input            json NOT NULL,
  result           json,
  error            json,
  errors           json,
  attempt          integer NOT NULL DEFAULT 0,
  max_attempts     integer NOT NULL,
  progress         json,
  checkpoint       json,
  key              text,
  group_name       text,
  timeout_ms       double precision,
  backoff          json NOT NULL,
  created_at       double precision NOT NULL,
  run_at           double precision NOT NULL,
  started_at       double precision,
  finished_at      double precision,
  last_progress_at double precision,
  lease_owner      text,
  lease_expires_at double precision,
  cancel_requested boolean NOT NULL DEFAULT false,
  cancel_reason    text
);

-- idempotency keys
CREATE UNIQUE INDEX jobs_key ON {{schema}}.jobs (key) WHERE key IS NOT NULL;
-- the runnable set, per job name (claim walks one name at a time in claim order)
CREATE INDEX jobs_runnable ON {{schema}}.jobs (name, priority DESC, run_at, id) WHERE state = 'queued';
-- queued jobs of groups, per (group, name) lane: claims of limited groups
CREATE INDEX jobs_queued_group ON {{schema}}.jobs (group_name, name, priority DESC, run_at, id)
  WHERE state = 'queued' AND group_name IS NOT NULL;
-- earliest delayed job (claim's nextRunAt)
CREATE INDEX jobs_queued_run_at ON {{schema}}.jobs (run_at) WHERE state = 'queued';
-- leases, for rescue
CREATE INDEX jobs_leases ON {{schema}}.jobs (lease_expires_at) WHERE state = 'running';
-- running jobs per group: fleet-wide group concurrency
CREATE INDEX jobs_running_group ON {{schema}}.jobs (group_name) WHERE state = 'running' AND group_name IS NOT NULL;
-- retention, oldest finished first
CREATE INDEX jobs_finished ON {{schema}}.jobs (finished_at, id) WHERE finished_at IS NOT NULL;

-- Group limits, upserted by configure() so every process enforces the same ones.
CREATE TABLE {{schema}}.groups (
  name             text PRIMARY KEY,
  concurrency      integer,
  rate_limit       integer,
  rate_interval_ms double precision,
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Claim times of rate-limited groups inside the current window (pruned by claims).
CREATE TABLE {{schema}}.group_starts (
  group_name text NOT NULL,
  at         double precision NOT NULL
);
CREATE INDEX group_starts_group_at ON {{schema}}.group_starts (group_name, at);

-- Jobs per state without scanning finished jobs: triggers append per-statement
-- deltas (insert-only, so concurrent writers never wait on a hot counter row),
-- and compaction folds them into `counts` now and then.
CREATE TABLE {{schema}}.counts (
  state text PRIMARY KEY,
  n     bigint NOT NULL
);
INSERT INTO {{schema}}.counts (state, n)
  VALUES ('queued', 0), ('running', 0), ('completed', 0), ('failed', 0), ('cancelled', 0);

CREATE TABLE {{schema}}.count_deltas (
  state text NOT NULL,
  delta bigint NOT NULL
);

-- Each trigger makes one pass over its transition table(s), counting per state.
CREATE FUNCTION {{schema}}.jobs_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {{schema}}.count_deltas (state, delta)
    SELECT v.state, v.delta FROM (
      SELECT count(*) FILTER (WHERE state = 'queued') AS q, count(*) FILTER (WHERE state = 'running') AS r,
             count(*) FILTER (WHERE state = 'completed') AS c, count(*) FILTER (WHERE state = 'failed') AS f,
             count(*) FILTER (WHERE state = 'cancelled') AS x
      FROM new_rows) n,
    LATERAL (VALUES ('queued', n.q), ('running', n.r), ('completed', n.c), ('failed', n.f), ('cancelled', n.x)) v(state, delta)
    WHERE v.delta <> 0;
  RETURN NULL;
END
$$;

CREATE FUNCTION {{schema}}.jobs_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {{schema}}.count_deltas (state, delta)
    SELECT v.state, v.delta FROM (
      SELECT count(*) FILTER (WHERE state = 'queued') AS q, count(*) FILTER (WHERE state = 'running') AS r,
             count(*) FILTER (WHERE state = 'completed') AS c, count(*) FILTER (WHERE state = 'failed') AS f,
             count(*) FILTER (WHERE state = 'cancelled') AS x
      FROM new_rows) n,
    (
      SELECT count(*) FILTER (WHERE state = 'queued') AS q, count(*) FILTER (WHERE state = 'running') AS r,
             count(*) FILTER (WHERE state = 'completed') AS c, count(*) FILTER (WHERE state = 'failed') AS f,
             count(*) FILTER (WHERE state = 'cancelled') AS x
      FROM old_rows) o,
    LATERAL (VALUES ('queued', n.q - o.q), ('running', n.r - o.r), ('completed', n.c - o.c),
                    ('failed', n.f - o.f), ('cancelled', n.x - o.x)) v(state, delta)
    WHERE v.delta <> 0;
  RETURN NULL;
END
$$;

CREATE FUNCTION {{schema}}.jobs_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {{schema}}.count_deltas (state, delta)
    SELECT v.state, -v.delta FROM (
      SELECT count(*) FILTER (WHERE state = 'queued') AS q, count(*) FILTER (WHERE state = 'running') AS r,
             count(*) FILTER (WHERE state = 'completed') AS c, count(*) FILTER (WHERE state = 'failed') AS f,
             count(*) FILTER (WHERE state = 'cancelled') AS x
      FROM old_rows) o,
    LATERAL (VALUES ('queued', o.q), ('running', o.r), ('completed', o.c), ('failed', o.f), ('cancelled', o.x)) v(state, delta)
    WHERE v.delta <> 0;
  RETURN NULL;
END
$$;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON {{schema}}.jobs
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.jobs_count_insert();
CREATE TRIGGER jobs_count_update AFTER UPDATE ON {{schema}}.jobs
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.jobs_count_update();
CREATE TRIGGER jobs_count_delete AFTER DELETE ON {{schema}}.jobs
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION {{schema}}.jobs_count_delete();
