/**
 * This store's column values for what the port passes in. Whole rows become
 * jobs in src/store/job-row.ts, shared with the PostgreSQL store.
 */
import type { AttemptError, SerializedError } from "../../core/job.js";
import type { LeaseRow } from "./statements.js";

/** Job ids are decimal row ids; anything else names no job. */
export function rowId(id: string): number | null {
  if (!/^[1-9][0-9]{0,15}$/.test(id)) return null;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : null;
}

export function cancelledError(reason: string, note?: string): string {
  const error: SerializedError = {
    name: "JobCancelledError",
    code: "OPTIQ_JOB_CANCELLED",
    message: note ? `cancelled: ${reason}; ${note}` : `cancelled: ${reason}`,
  };
  return JSON.stringify(error);
}

export function errorColumns(row: LeaseRow, error: SerializedError, now: number): { error: string; errors: string } {
  const history = row.errors === null ? [] : (JSON.parse(row.errors) as AttemptError[]);
  history.push({ attempt: row.attempt, at: now, error });
  return { error: JSON.stringify(error), errors: JSON.stringify(history) };
}
