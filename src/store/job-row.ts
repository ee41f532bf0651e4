/**
 * A job as the SQL stores keep it: snake_case columns, payloads as JSON text.
 * Drivers differ in how numbers and flags arrive (pg returns bigint as text,
 * SQLite booleans as 0/1), so the row types accept both and the conversion
 * to the port's shapes lives here, once.
 */
import type { AttemptError, BackoffSpec, Job, SerializedError } from "../core/job.js";
import type { JobState } from "../core/states.js";
import type { ClaimedJob } from "./port.js";

type Num = number | string;

export interface JobRow {
  id: Num;
  name: string;
  state: JobState;
  priority: Num;
  input: string;
  result: string | null;
  error: string | null;
  errors: string | null;
  attempt: Num;
  max_attempts: Num;
  progress: string | null;
  checkpoint: string | null;
  key: string | null;
  group_name: string | null;
  timeout_ms: Num | null;
  backoff: string;
  created_at: Num;
  run_at: Num;
  started_at: Num | null;
  finished_at: Num | null;
  last_progress_at: Num | null;
  lease_owner: string | null;
  lease_expires_at: Num | null;
  cancel_requested: boolean | number;
  cancel_reason: string | null;
}

/** The columns a claim returns. */
export type ClaimedColumn =
  | "id"
  | "name"
  | "input"
  | "attempt"
  | "max_attempts"
  | "priority"
  | "timeout_ms"
  | "backoff"
  | "key"
  | "group_name"
  | "created_at"
  | "run_at"
  | "checkpoint"
  | "lease_expires_at";

export type ClaimedRow = Pick<JobRow, ClaimedColumn>;

export function rowToJob(r: JobRow): Job {
  return {
    id: String(r.id),
    name: r.name,
    state: r.state,
    priority: Number(r.priority),
    input: parseJson(r.input),
    result: r.result === null ? undefined : parseJson(r.result),
    error: parseJson(r.error) as SerializedError | null,
    attempt: Number(r.attempt),
    maxAttempts: Number(r.max_attempts),
    errors: r.errors === null ? [] : (JSON.parse(r.errors) as AttemptError[]),
    progress: parseJson(r.progress),
    checkpoint: parseJson(r.checkpoint),
    key: r.key,
    group: r.group_name,
    timeoutMs: numOrNull(r.timeout_ms),
    backoff: JSON.parse(r.backoff) as BackoffSpec,
    createdAt: Number(r.created_at),
    runAt: Number(r.run_at),
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
    lastProgressAt: numOrNull(r.last_progress_at),
    leaseOwner: r.lease_owner,
    leaseExpiresAt: numOrNull(r.lease_expires_at),
    cancelRequested: Boolean(r.cancel_requested),
    cancelReason: r.cancel_reason,
  };
}

export function rowToClaimed(r: ClaimedRow): ClaimedJob {
  return {
    id: String(r.id),
    name: r.name,
    input: parseJson(r.input),
    attempt: Number(r.attempt),
    maxAttempts: Number(r.max_attempts),
    priority: Number(r.priority),
    timeoutMs: numOrNull(r.timeout_ms),
    backoff: JSON.parse(r.backoff) as BackoffSpec,
    key: r.key,
    group: r.group_name,
    createdAt: Number(r.created_at),
    runAt: Number(r.run_at),
    checkpoint: parseJson(r.checkpoint),
    leaseExpiresAt: numOrNull(r.lease_expires_at) ?? 0,
  };
}

function parseJson(text: string | null): unknown {
  return text === null ? null : (JSON.parse(text) as unknown);
}

function numOrNull(value: Num | null | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}
