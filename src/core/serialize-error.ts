import type { SerializedError } from "./job.js";

const MAX_CAUSE_DEPTH = 5;

/** Turns anything thrown into a JSON-safe error, keeping code and cause chain. */
export function serializeError(value: unknown, depth = 0): SerializedError {
  if (value instanceof Error) {
    const out: SerializedError = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (typeof code === "string") out.code = code;
    if (value.stack) out.stack = value.stack;
    if (value.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serializeError(value.cause, depth + 1);
    return out;
  }
  return { name: "NonErrorThrown", code: "OPTIQ_HANDLER_ERROR", message: `non-Error thrown: ${safeString(value)}` };
}

/** A short printable form of any thrown value. */
export function safeString(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json.length > 500 ? `${json.slice(0, 500)}…` : json;
  } catch {
    // fall through: circular or BigInt
  }
  return String(value);
}
