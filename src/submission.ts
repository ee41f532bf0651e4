import type { SubmitOptions } from "./core/definition.js";
import { ValidationError } from "./core/errors.js";
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

/** The name of an option in error messages, e.g. `items[3].options.delayMs`. */
function fieldName(prefix: string, f: string): string {
  return `${prefix}options.${f}`;
}

/** Validates one submission against its definition's defaults and builds the store row. */
export function buildEnqueueJob(
  def: ResolvedDefinition,
  input: unknown,
  options: SubmitOptions,
  prefix: string,
  now: number,
  maxPayloadBytes: number,
): EnqueueJob {
  if (typeof options !== "object" || options === null)
    throw new ValidationError(`${prefix}options`, "must be an object");
  for (const k of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(k)) throw new ValidationError(fieldName(prefix, k), "is not a submit option");
  }
  if (options.delayMs !== undefined && options.runAt !== undefined) {
    throw new ValidationError(fieldName(prefix, "runAt"), "give delayMs or runAt, not both");
  }
  let runAt = now;
  if (options.delayMs !== undefined) runAt = now + checkDuration(fieldName(prefix, "delayMs"), options.delayMs);
  if (options.runAt !== undefined) {
    const at = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
    if (typeof at !== "number" || !Number.isFinite(at))
      throw new ValidationError(fieldName(prefix, "runAt"), "must be a Date or epoch ms");
    runAt = Math.max(now, at);
  }
  if (options.ifFull !== undefined && options.ifFull !== "reject" && options.ifFull !== "wait") {
    throw new ValidationError(fieldName(prefix, "ifFull"), 'must be "reject" or "wait"');
  }
  return {
    name: def.name,
    inputJson: toJson(`${prefix}input`, input, maxPayloadBytes),
    priority:
      options.priority === undefined ? def.priority : checkPriority(fieldName(prefix, "priority"), options.priority),
    runAt,
    maxAttempts:
      options.maxAttempts === undefined
        ? def.maxAttempts
        : checkInteger(fieldName(prefix, "maxAttempts"), options.maxAttempts, 1, MAX_ATTEMPTS),
    timeoutMs:
      options.timeoutMs === undefined ? def.timeoutMs : checkTimeout(fieldName(prefix, "timeoutMs"), options.timeoutMs),
    backoff: options.backoff === undefined ? def.backoff : checkBackoff(fieldName(prefix, "backoff"), options.backoff),
    key: options.key === undefined ? null : checkString(fieldName(prefix, "key"), options.key, 256),
    group: options.group === undefined ? null : checkString(fieldName(prefix, "group"), options.group, 128),
  };
}
