import type { RunningJob } from "../core/definition.js";
import {
  HandlerError,
  NonRetryableError,
  PayloadTooLargeError,
  RetryAfterError,
  SandboxModuleError,
  ValidationError,
} from "../core/errors.js";
import { safeString } from "../core/serialize-error.js";

/**
 * Messages between the parent (SandboxPool) and a runner (a worker thread or
 * a child process). Plain JSON only: the process transport serialises as JSON.
 * Results, progress and checkpoints travel as JSON text, already checked by
 * the runner with the same rules as in-process payloads.
 */

/** An error as it crosses the boundary: enough to rebuild the class the worker's retry policy looks at. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: WireError;
  /** ValidationError / PayloadTooLargeError: the payload at fault. */
  field?: string;
  bytes?: number;
  limit?: number;
  /** RetryAfterError. */
  retryAfterMs?: number;
  /** JobCancelledError: the cancel reason. */
  reason?: string;
  /** JobTimeoutError. */
  timeoutMs?: number;
}

export type ToRunner =
  | { t: "run"; runId: number; job: RunningJob; moduleUrl: string; workerId: string; maxPayloadBytes: number }
  | { t: "abort"; runId: number; reason: WireError };

export type FromRunner =
  | { t: "ready" }
  | { t: "progress"; runId: number; json: string }
  | { t: "checkpoint"; runId: number; json: string }
  | { t: "done"; runId: number; json: string }
  | { t: "fail"; runId: number; error: WireError; module?: boolean };

const MAX_CAUSE_DEPTH = 5;

/** Anything thrown, as a WireError (code, cause chain and the fields that matter to retries). */
export function toWireError(value: unknown, depth = 0): WireError {
  if (!(value instanceof Error) && !(typeof value === "object" && value !== null && "message" in value)) {
    return { name: "NonErrorThrown", code: "OPTIQ_HANDLER_ERROR", message: `non-Error thrown: ${safeString(value)}` };
  }
  const e = value as Error & Record<string, unknown>;
  const out: WireError = { name: typeof e.name === "string" ? e.name : "Error", message: String(e.message) };
  if (typeof e.code === "string") out.code = e.code;
  if (typeof e.stack === "string") out.stack = e.stack;
  if (typeof e.field === "string") out.field = e.field;
  for (const key of ["bytes", "limit", "retryAfterMs", "timeoutMs"] as const) {
    const v = e[key];
    if (typeof v === "number" && Number.isFinite(v)) out[key] = v;
  }
  if (typeof e.reason === "string") out.reason = e.reason;
  if (e.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = toWireError(e.cause, depth + 1);
  return out;
}

/**
 * Rebuilds an error from the runner as the class optiq's retry policy
 * recognises (ValidationError and PayloadTooLargeError fail at once,
 * NonRetryableError too, RetryAfterError delays). Anything else becomes an
 * Error with the same name, message, code, stack and cause.
 */
export function fromWireError(w: WireError, moduleUrl: string, isModuleError = false): Error {
  let err: Error;
  const cause = w.cause ? fromWireError(w.cause, moduleUrl) : undefined;
  const options = cause === undefined ? undefined : { cause };
  if (isModuleError || w.code === "OPTIQ_SANDBOX_MODULE") {
    err = new SandboxModuleError(w.message, moduleUrl, options);
  } else if (w.code === "OPTIQ_VALIDATION" && w.field !== undefined) {
    err = new ValidationError(w.field, stripField(w.message, w.field));
  } else if (
    w.code === "OPTIQ_PAYLOAD_TOO_LARGE" &&
    w.field !== undefined &&
    w.bytes !== undefined &&
    w.limit !== undefined
  ) {
    err = new PayloadTooLargeError(w.field, w.bytes, w.limit);
  } else if (w.code === "OPTIQ_NON_RETRYABLE") {
    err = new NonRetryableError(w.message, options);
  } else if (w.code === "OPTIQ_HANDLER_ERROR" && w.retryAfterMs !== undefined) {
    err = new RetryAfterError(w.message, w.retryAfterMs, options);
  } else if (w.code === "OPTIQ_HANDLER_ERROR" && w.name === "HandlerError") {
    err = new HandlerError(w.message, options);
  } else {
    err = new Error(w.message, options);
    if (w.code !== undefined) (err as Error & { code?: string }).code = w.code;
  }
  err.name = w.name;
  if (w.stack !== undefined) err.stack = w.stack;
  return err;
}

/** The abort reason as the runner's AbortSignal carries it: an Error with the same name, message and code. */
export function abortReasonFromWire(w: WireError): Error {
  const err = new Error(w.message) as Error & { code?: string; reason?: string; timeoutMs?: number };
  err.name = w.name;
  if (w.code !== undefined) err.code = w.code;
  if (w.reason !== undefined) err.reason = w.reason;
  if (w.timeoutMs !== undefined) err.timeoutMs = w.timeoutMs;
  return err;
}

function stripField(message: string, field: string): string {
  const prefix = `${field}: `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}
