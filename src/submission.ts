import type { SubmitOptions } from "./core/definition.js";
import { PayloadTooLargeError, UnknownJobNameError, ValidationError } from "./core/errors.js";
import type { BackoffSpec } from "./core/job.js";
import {
  checkBackoff,
  checkDuration,
  checkInteger,
  checkPriority,
  checkString,
  checkTimeout,
  toJson,
} from "./core/validate.js";
import { MAX_ATTEMPTS } from "./options.js";
import type { EnqueueJob } from "./store/port.js";
import type { ResolvedDefinition } from "./worker/definition.js";

const KNOWN_OPTIONS = new Set([
  "priority",
  "delayMs",
  "runAt",
  "timeoutMs",
  "maxAttempts",
  "backoff",
  "key",
  "group",
  "ifFull",
  "waitTimeoutMs",
  "signal",
]);

/** Options of a submission that gives none (shared: nothing is allocated per job). */
export const NO_OPTIONS: SubmitOptions = Object.freeze({});

/**
 * The same error, naming the field inside `items[i]` of a submitMany call.
 * Field names are built here, on the error path only: a million valid
 * submissions build no strings for them.
 */
export function atItem(err: unknown, index: number): unknown {
  const prefix = `items[${index}].`;
  if (err instanceof ValidationError) return new ValidationError(prefix + err.field, err.reason);
  if (err instanceof PayloadTooLargeError) return new PayloadTooLargeError(prefix + err.field, err.bytes, err.limit);
  if (err instanceof UnknownJobNameError) return new UnknownJobNameError(err.jobName, prefix + err.field);
  return err;
}

/** Validates one submission against its definition's defaults and builds the store row. */
export function buildEnqueueJob(
  def: ResolvedDefinition,
  input: unknown,
  options: SubmitOptions,
  now: number,
  maxPayloadBytes: number,
): EnqueueJob {
  if (typeof options !== "object" || options === null) throw new ValidationError("options", "must be an object");
  for (const k in options) {
    if (!KNOWN_OPTIONS.has(k)) throw new ValidationError(`options.${k}`, "is not a submit option");
  }
  if (options.delayMs !== undefined && options.runAt !== undefined) {
    throw new ValidationError("options.runAt", "give delayMs or runAt, not both");
  }
  let runAt = now;
  if (options.delayMs !== undefined) runAt = now + checkDuration("options.delayMs", options.delayMs);
  if (options.runAt !== undefined) {
    const at = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
    if (typeof at !== "number" || !Number.isFinite(at))
      throw new ValidationError("options.runAt", "must be a Date or epoch ms");
    runAt = Math.max(now, at);
  }
  if (options.ifFull !== undefined && options.ifFull !== "reject" && options.ifFull !== "wait") {
    throw new ValidationError("options.ifFull", 'must be "reject" or "wait"');
  }
  return new EnqueueRow(
    def.name,
    toJson("input", input, maxPayloadBytes),
    options.priority === undefined ? def.priority : checkPriority("options.priority", options.priority),
    runAt,
    options.maxAttempts === undefined
      ? def.maxAttempts
      : checkInteger("options.maxAttempts", options.maxAttempts, 1, MAX_ATTEMPTS),
    options.timeoutMs === undefined ? def.timeoutMs : checkTimeout("options.timeoutMs", options.timeoutMs),
    options.backoff === undefined ? def.backoff : checkBackoff("options.backoff", options.backoff),
    options.key === undefined ? null : checkString("options.key", options.key, 256),
    options.group === undefined ? null : checkString("options.group", options.group, 128),
  );
}

/** A class rather than an object literal, so V8 never pretenures these short-lived rows. */
class EnqueueRow implements EnqueueJob {
  constructor(
    readonly name: string,
    readonly inputJson: string,
    readonly priority: number,
    readonly runAt: number,
    readonly maxAttempts: number,
    readonly timeoutMs: number | null,
    readonly backoff: BackoffSpec,
    readonly key: string | null,
    readonly group: string | null,
  ) {}
}
