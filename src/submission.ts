import type { SubmitOptions } from "./core/definition.js";
import { ValidationError } from "./core/errors.js";
import { checkBackoff, checkDuration, checkInteger, checkPriority, checkString, checkTimeout, toJson } from "./core/validate.js";
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

/** Validates one submission against its definition's defaults and builds the store row. */
export function buildEnqueueJob(
  def: ResolvedDefinition,
  input: unknown,
  options: SubmitOptions,
  prefix: string,
  now: number,
  maxPayloadBytes: number,
): EnqueueJob {
  const field = (f: string) => `${prefix}options.${f}`;
  if (typeof options !== "object" || options === null) throw new ValidationError(`${prefix}options`, "must be an object");
  for (const k of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(k)) throw new ValidationError(field(k), "is not a submit option");
  }
  if (options.delayMs !== undefined && options.runAt !== undefined) {
    throw new ValidationError(field("runAt"), "give delayMs or runAt, not both");
  }
  let runAt = now;
  if (options.delayMs !== undefined) runAt = now + checkDuration(field("delayMs"), options.delayMs);
  if (options.runAt !== undefined) {
    const at = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
    if (typeof at !== "number" || !Number.isFinite(at)) throw new ValidationError(field("runAt"), "must be a Date or epoch ms");
    runAt = Math.max(now, at);
  }
  if (options.ifFull !== undefined && options.ifFull !== "reject" && options.ifFull !== "wait") {
    throw new ValidationError(field("ifFull"), 'must be "reject" or "wait"');
  }
  return {
    name: def.name,
    inputJson: toJson(`${prefix}input`, input, maxPayloadBytes),
    priority: options.priority === undefined ? def.priority : checkPriority(field("priority"), options.priority),
    runAt,
    maxAttempts:
      options.maxAttempts === undefined ? def.maxAttempts : checkInteger(field("maxAttempts"), options.maxAttempts, 1, MAX_ATTEMPTS),
    timeoutMs: options.timeoutMs === undefined ? def.timeoutMs : checkTimeout(field("timeoutMs"), options.timeoutMs),
    backoff: options.backoff === undefined ? def.backoff : checkBackoff(field("backoff"), options.backoff),
    key: options.key === undefined ? null : checkString(field("key"), options.key, 256),
    group: options.group === undefined ? null : checkString(field("group"), options.group, 128),
  };
}
