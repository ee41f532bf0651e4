import { MAX_TIMER_MS } from "./clock.js";
import { PayloadTooLargeError, ValidationError } from "./errors.js";
import type { BackoffSpec } from "./job.js";
import type { RateLimit } from "./rate-limiter.js";

/** setTimeout's ceiling: a longer timer would fire at once. */
export { MAX_TIMER_MS };
const MAX_PRIORITY = 2 ** 31 - 1;

export function checkInteger(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new ValidationError(field, `must be an integer, got ${describe(value)}`);
  }
  if (value < min || value > max) throw new ValidationError(field, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

export function checkString(field: string, value: unknown, maxLength: number): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new ValidationError(field, `must be a non-empty string, got ${describe(value)}`);
  }
  if (value.length > maxLength) throw new ValidationError(field, `must be at most ${maxLength} characters`);
  return value;
}

export function checkPriority(field: string, value: unknown): number {
  return checkInteger(field, value, -MAX_PRIORITY, MAX_PRIORITY);
}

export function checkDuration(field: string, value: unknown, { allowZero = true } = {}): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ValidationError(field, `must be a finite number of ms, got ${describe(value)}`);
  }
  if (value < 0 || (!allowZero && value === 0)) {
    throw new ValidationError(field, `must be ${allowZero ? "≥ 0" : "> 0"} ms, got ${value}`);
  }
  if (value > MAX_TIMER_MS) throw new ValidationError(field, `must be at most ${MAX_TIMER_MS} ms`);
  return value;
}

export function checkTimeout(field: string, value: unknown): number | null {
  if (value === null) return null;
  return checkDuration(field, value, { allowZero: false });
}

export function checkRateLimit(field: string, value: unknown): RateLimit {
  if (typeof value !== "object" || value === null) throw new ValidationError(field, "must be { limit, intervalMs }");
  const v = value as Record<string, unknown>;
  return {
    limit: checkInteger(`${field}.limit`, v.limit, 1, 1_000_000),
    intervalMs: checkDuration(`${field}.intervalMs`, v.intervalMs, { allowZero: false }),
  };
}

export function checkBackoff(field: string, value: unknown): BackoffSpec {
  if (typeof value !== "object" || value === null) throw new ValidationError(field, "must be a backoff object");
  const v = value as Record<string, unknown>;
  const jitter = v.jitter ?? true;
  if (typeof jitter !== "boolean") throw new ValidationError(`${field}.jitter`, "must be a boolean");
  if (v.type === "fixed") return { type: "fixed", delayMs: checkDuration(`${field}.delayMs`, v.delayMs), jitter };
  if (v.type === "exponential") {
    const baseMs = checkDuration(`${field}.baseMs`, v.baseMs);
    const maxMs = checkDuration(`${field}.maxMs`, v.maxMs ?? 5 * 60_000);
    if (maxMs < baseMs) throw new ValidationError(`${field}.maxMs`, "must be ≥ baseMs");
    return { type: "exponential", baseMs, maxMs, jitter };
  }
  throw new ValidationError(`${field}.type`, `must be "exponential" or "fixed", got ${describe(v.type)}`);
}

/**
 * JSON text of a payload, rejecting what JSON would silently drop or change:
 * functions, symbols, undefined at the top, NaN/Infinity, Map/Set, BigInt and
 * cycles. The size limit is in UTF-8 bytes.
 */
export function toJson(field: string, value: unknown, maxBytes: number): string {
  let json: string | undefined;
  try {
    json = value === undefined ? "null" : JSON.stringify(value, strictReplacer);
  } catch (err) {
    // the error path only: walk the value to name exactly where it went wrong
    const bad = findUnserialisable(value, field, new Set());
    if (bad) throw new ValidationError(bad.path, bad.why);
    throw new ValidationError(field, `is not JSON-serialisable: ${(err as Error).message}`);
  }
  if (json === undefined) throw new ValidationError(field, `is not JSON-serialisable (${typeof value})`);
  // cheap bound first: a UTF-16 code unit never takes more than 3 UTF-8 bytes
  if (json.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(json);
    if (bytes > maxBytes) throw new PayloadTooLargeError(field, bytes, maxBytes);
  }
  return json;
}

class Unserialisable extends Error {}

function strictReplacer(this: unknown, _key: string, value: unknown): unknown {
  const why = whyUnserialisable(value);
  if (why !== null) throw new Unserialisable(why);
  return value;
}

function whyUnserialisable(value: unknown): string | null {
  switch (typeof value) {
    case "function":
    case "symbol":
      return `is a ${typeof value}, which JSON cannot carry`;
    case "bigint":
      return "is a BigInt, which JSON cannot carry; convert it to a string";
    case "number":
      return Number.isFinite(value) ? null : `is ${value}, which JSON cannot carry`;
    case "object":
      if (value instanceof Map || value instanceof Set) {
        return `is a ${value.constructor.name}; convert it to an array or object`;
      }
      return null;
    default:
      return null;
  }
}

/** Depth-first search for the first value JSON cannot carry, with its path (e.g. `input.runs[2].fn`). */
function findUnserialisable(value: unknown, path: string, seen: Set<object>): { path: string; why: string } | null {
  const toJSON = (value as { toJSON?: unknown } | null)?.toJSON;
  if (typeof toJSON === "function" && typeof value === "object") value = (toJSON as () => unknown).call(value);
  const why = whyUnserialisable(value);
  if (why !== null) return { path, why };
  if (typeof value !== "object" || value === null) return null;
  if (seen.has(value)) return { path, why: "is a circular reference" };
  seen.add(value);
  const entries = Array.isArray(value)
    ? value.map((v, i) => [`[${i}]`, v] as const)
    : Object.entries(value).map(([k, v]) => [`.${k}`, v] as const);
  for (const [suffix, child] of entries) {
    if (child === undefined && !Array.isArray(value)) continue;
    const bad = findUnserialisable(child, `${path}${suffix}`, seen);
    if (bad) return bad;
  }
  seen.delete(value);
  return null;
}

export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || value == null) return String(value);
  return typeof value;
}
