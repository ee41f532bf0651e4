import type { AttemptError, SerializedError } from "../../core/job.js";
import type { Outcome } from "../../store/port.js";
import type { MemoryRecord } from "./record.js";

/** Records a failed attempt: the job's last error, and one more entry in its history. */
export function recordError(rec: MemoryRecord, error: SerializedError, now: number): void {
  rec.error = error;
  const entry: AttemptError = { attempt: rec.attempt, at: now, error };
  if (rec.errors) rec.errors.push(entry);
  else rec.errors = [entry];
}

/** Sets a cancelled job's reason, end and error; the caller sets its state. */
export function markCancelledFields(rec: MemoryRecord, reason: string, now: number, note?: string): void {
  rec.cancelReason = reason;
  rec.finishedAt = now;
  rec.error = {
    name: "JobCancelledError",
    code: "OPTIQ_JOB_CANCELLED",
    message: note ? `cancelled: ${reason}; ${note}` : `cancelled: ${reason}`,
  };
}

/** The error an attempt fails with when its worker stopped heartbeating before the lease ran out. */
export function leaseExpiredError(attempt: number): SerializedError {
  return {
    name: "LeaseExpiredError",
    code: "OPTIQ_LEASE_LOST",
    message: `lease expired at attempt ${attempt}: the worker stopped heartbeating`,
  };
}

/** The worker's note on a cancelled outcome, if it gave one. */
export function noteOf(outcome: Outcome): string | undefined {
  return outcome.kind === "cancelled" ? outcome.note : undefined;
}
