import {
  AbortedError,
  InternalError,
  JobCancelledError,
  JobFailedError,
  JobNotFoundError,
  NotRunningError,
  OptiqError,
  PayloadTooLargeError,
  QueueFullError,
  RouteNotFoundError,
  StoreError,
  TooManyStreamsError,
  UnauthorizedError,
  UnknownJobNameError,
  ValidationError,
  WaitTimeoutError,
} from "../core/errors.js";
import { HttpError } from "./errors.js";

/** The `error` object of an error response: code and message, plus the error class's details. */
type Details = Record<string, unknown> & { code: string; message: string };

/** What the client knows of the request, for details a body may leave out. */
export interface RequestContext {
  /** The job id in the request's path, if any. */
  jobId?: string;
}

type Rebuild = (d: Details, ctx: RequestContext) => OptiqError | null;

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** Codes whose class can be rebuilt from the body, so callers catch the same classes as in-process. */
const REBUILD: Record<string, Rebuild> = {
  OPTIQ_VALIDATION: (d) => {
    const field = str(d.field) ?? "request";
    const reason = str(d.reason) ?? stripPrefix(d.message, field);
    return new ValidationError(field, reason);
  },
  OPTIQ_UNKNOWN_JOB_NAME: (d) => {
    const field = str(d.field) ?? "name";
    const jobName = str(d.jobName) ?? /"([^"]*)"/.exec(d.message)?.[1] ?? "";
    return new UnknownJobNameError(jobName, field);
  },
  OPTIQ_PAYLOAD_TOO_LARGE: (d) =>
    new PayloadTooLargeError(str(d.field) ?? "body", num(d.bytes) ?? 0, num(d.limit) ?? 0),
  OPTIQ_QUEUE_FULL: (d) => new QueueFullError(num(d.queued) ?? 0, num(d.limit) ?? 0),
  OPTIQ_NOT_FOUND: (d, ctx) => new JobNotFoundError(str(d.jobId) ?? ctx.jobId ?? ""),
  OPTIQ_JOB_FAILED: (d, ctx) => new JobFailedError(str(d.jobId) ?? ctx.jobId ?? "", num(d.attempts) ?? 0, d.cause),
  OPTIQ_JOB_CANCELLED: (d, ctx) => new JobCancelledError(str(d.jobId) ?? ctx.jobId ?? "", str(d.reason) ?? "cancelled"),
  OPTIQ_WAIT_TIMEOUT: (d, ctx) =>
    new WaitTimeoutError(str(d.jobId) ?? ctx.jobId ?? "", num(d.timeoutMs) ?? 0, str(d.state) ?? "unknown"),
  OPTIQ_NOT_RUNNING: (d) => new NotRunningError(d.message),
  OPTIQ_STORE: (d) => new StoreError(d.message, d.cause === undefined ? undefined : { cause: d.cause }),
  OPTIQ_ABORTED: (d) => new AbortedError(d.message),
  OPTIQ_UNAUTHORIZED: (d) => new UnauthorizedError(d.message),
  OPTIQ_ROUTE_NOT_FOUND: (d) => new RouteNotFoundError(str(d.method) ?? "", str(d.path) ?? ""),
  OPTIQ_TOO_MANY_STREAMS: (d) => new TooManyStreamsError(num(d.limit) ?? 0),
  OPTIQ_INTERNAL: (d) => new InternalError(d.message),
};

/**
 * The error an error response stands for: the same class as the server
 * threw where it can be rebuilt (its message kept as sent), else HttpError.
 */
export function rehydrate(status: number, body: unknown, ctx: RequestContext = {}): OptiqError {
  const details = errorDetails(body);
  if (details === null) {
    const text = typeof body === "string" ? body.slice(0, 200) : JSON.stringify(body)?.slice(0, 200);
    return new HttpError(status, null, `HTTP ${status} without an optiq error body${text ? `: ${text}` : ""}`, body);
  }
  const rebuilt = REBUILD[details.code]?.(details, ctx) ?? null;
  if (rebuilt === null) return new HttpError(status, details.code, details.message, body);
  rebuilt.message = details.message;
  return rebuilt;
}

function errorDetails(body: unknown): Details | null {
  if (typeof body !== "object" || body === null) return null;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== "object" || error === null) return null;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code !== "string") return null;
  return { ...(error as Record<string, unknown>), code, message: typeof message === "string" ? message : code };
}

function stripPrefix(message: string, field: string): string {
  return message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
}
