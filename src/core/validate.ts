import { PayloadTooLargeError, ValidationError } from "./errors.js";
import type { BackoffSpec } from "./job.js";
import type { RateLimit } from "./rate-limiter.js";

/** setTimeout's ceiling: a longer timer would fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
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
    if (err instanceof ValidationError) throw new ValidationError(`${field}${err.field}`, err.message.replace(/^[^:]*: /, ""));
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

function strictReplacer(this: unknown, key: string, value: unknown): unknown {
  switch (typeof value) {
    case "function":
    case "symbol":
      throw new ValidationError(pathOf(key), `is a ${typeof value}, which JSON cannot carry`);
    case "number":
      if (!Number.isFinite(value)) throw new ValidationError(pathOf(key), `is ${value}, which JSON cannot carry`);
      return value;
    case "object":
      if (value instanceof Map || value instanceof Set) {
        throw new ValidationError(pathOf(key), `is a ${value.constructor.name}; convert it to an array or object`);
      }
      return value;
    default:
      return value;
  }
}

function pathOf(key: string): string {
  return key === "" ? "" : `.${key}`;
}

export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || value == null) return String(value);
  return typeof value;
}
