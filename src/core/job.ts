import type { JobState } from "./states.js";

/** JSON-safe form of an error, as stored and returned in snapshots. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: SerializedError;
}

/** One failed attempt, kept in the job's history. */
export interface AttemptError {
  attempt: number;
  at: number;
  error: SerializedError;
}

/** Backoff between attempts. Serialisable, so every store can keep it with the job. */
export type BackoffSpec =
  | { type: "exponential"; baseMs: number; maxMs: number; jitter: boolean }
  | { type: "fixed"; delayMs: number; jitter: boolean };

/** A snapshot of one job, as `get()` returns it. */
export interface Job<Input = unknown, Result = unknown> {
  id: string;
  name: string;
  state: JobState;
  priority: number;
  input: Input;
  /** The handler's value once `completed`. */
  result: Result | undefined;
  /** The last error (for `failed`: why it failed; for `cancelled`: the reason). */
  error: SerializedError | null;
  /** Attempts started so far. */
  attempt: number;
  maxAttempts: number;
  /** Every failed attempt's error, oldest first. */
  errors: AttemptError[];
  progress: unknown;
  checkpoint: unknown;
  key: string | null;
  group: string | null;
  timeoutMs: number | null;
  backoff: BackoffSpec;
  createdAt: number;
  /** When the job is (or was) next eligible to run. */
  runAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  lastProgressAt: number | null;
  /** Worker holding the lease while it runs (and, after a cancel, until the work stopped). */
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  /** Set when cancel() was asked while the job ran; the worker stops it. */
  cancelRequested: boolean;
  cancelReason: string | null;
}
