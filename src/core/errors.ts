/**
 * Every error optiq throws is created here, with a stable `code` users can
 * match on and an HTTP status the server maps it to. docs/errors.md lists the
 * same codes; a test keeps the two in sync.
 */
export interface ErrorInfo {
  readonly code: string;
  readonly status: number;
  readonly description: string;
}

export const ERROR_CODES = {
  OPTIQ_VALIDATION: { status: 400, description: "An argument or option is invalid; `field` names it." },
  OPTIQ_UNKNOWN_JOB_NAME: { status: 400, description: "No handler or declaration exists for the job name." },
  OPTIQ_PAYLOAD_TOO_LARGE: { status: 413, description: "The serialised input or result exceeds the configured limit." },
  OPTIQ_QUEUE_FULL: { status: 429, description: "`maxQueued` jobs are already waiting; the job was not accepted." },
  OPTIQ_NOT_FOUND: { status: 404, description: "No job with this id exists (or it was removed by retention)." },
  OPTIQ_JOB_FAILED: {
    status: 500,
    description: "The job ended `failed`; `cause` holds the last error, `attempts` the count.",
  },
  OPTIQ_JOB_CANCELLED: { status: 409, description: "The job ended `cancelled`; `reason` says why." },
  OPTIQ_WAIT_TIMEOUT: {
    status: 408,
    description: "`result()` gave up waiting after `timeoutMs`; the job itself goes on.",
  },
  OPTIQ_JOB_TIMEOUT: { status: 500, description: "An attempt ran longer than its `timeoutMs` and was aborted." },
  OPTIQ_JOB_STUCK: {
    status: 500,
    description: 'An attempt reported no progress for its `stuckAfterMs` under `onStuck: "abort"`, and was aborted.',
  },
  OPTIQ_SHUTDOWN: {
    status: 503,
    description: "The worker shut down while the job ran; the job ends `cancelled` with reason shutdown.",
  },
  OPTIQ_NOT_RUNNING: { status: 503, description: "The queue is stopped or stopping and accepts no submissions." },
  OPTIQ_NON_RETRYABLE: { status: 500, description: "Thrown by a handler to fail the job at once, without retries." },
  OPTIQ_HANDLER_ERROR: { status: 500, description: "A handler threw or rejected with a value that is not an Error." },
  OPTIQ_LEASE_LOST: {
    status: 409,
    description: "The worker lost the job's lease (expired or rescued); its outcome was discarded.",
  },
  OPTIQ_STORE: {
    status: 500,
    description: "The store failed (connection, constraint, migration); `cause` holds the driver error.",
  },
  OPTIQ_ABORTED: { status: 499, description: "The operation was aborted by the caller's AbortSignal." },
  OPTIQ_SANDBOX_CRASH: { status: 500, description: "A sandboxed handler's thread or process died; it is retried." },
  OPTIQ_SANDBOX_MODULE: { status: 500, description: "A sandboxed handler's module is missing or exports no handler." },
  OPTIQ_UNAUTHORIZED: { status: 401, description: "The HTTP request carries no token, or a wrong one." },
  OPTIQ_ROUTE_NOT_FOUND: { status: 404, description: "No HTTP route matches the method and path." },
  OPTIQ_TOO_MANY_STREAMS: { status: 503, description: "`maxEventStreams` event streams are already open." },
  OPTIQ_INTERNAL: { status: 500, description: "The HTTP server failed unexpectedly; the details are in its log." },
  OPTIQ_CONNECTION: {
    status: 503,
    description:
      "The HTTP client got no usable answer: the server was unreachable, timed out or sent no optiq response.",
  },
} as const satisfies Record<string, Omit<ErrorInfo, "code">>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Base class of every optiq error. */
export class OptiqError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.status = ERROR_CODES[code].status;
  }
}

export class ValidationError extends OptiqError {
  /** The argument or option at fault, e.g. `options.priority`. */
  readonly field: string;
  /** What is wrong with it (the message without the field's name). */
  readonly reason: string;
  constructor(field: string, reason: string) {
    super("OPTIQ_VALIDATION", `${field}: ${reason}`);
    this.field = field;
    this.reason = reason;
  }
}

export class UnknownJobNameError extends OptiqError {
  constructor(
    readonly jobName: string,
    /** The argument at fault: `name`, or `items[i].name` in submitMany. */
    readonly field = "name",
  ) {
    super("OPTIQ_UNKNOWN_JOB_NAME", `${field}: no handler is defined or declared for job name "${jobName}"`);
  }
}

export class PayloadTooLargeError extends OptiqError {
  constructor(
    readonly field: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super("OPTIQ_PAYLOAD_TOO_LARGE", `${field}: ${bytes} bytes serialised, the limit is ${limit}`);
  }
}

export class QueueFullError extends OptiqError {
  constructor(
    readonly queued: number,
    readonly limit: number,
  ) {
    super("OPTIQ_QUEUE_FULL", `queue full: ${queued} jobs queued, maxQueued is ${limit}`);
  }
}

export class JobNotFoundError extends OptiqError {
  constructor(readonly jobId: string) {
    super("OPTIQ_NOT_FOUND", `job ${jobId} not found`);
  }
}

export class JobFailedError extends OptiqError {
  constructor(
    readonly jobId: string,
    readonly attempts: number,
    cause: unknown,
  ) {
    super("OPTIQ_JOB_FAILED", `job ${jobId} failed after ${attempts} attempt(s): ${describe(cause)}`, { cause });
  }
}

export class JobCancelledError extends OptiqError {
  constructor(
    readonly jobId: string,
    readonly reason: string,
  ) {
    super("OPTIQ_JOB_CANCELLED", `job ${jobId} was cancelled: ${reason}`);
  }
}

export class WaitTimeoutError extends OptiqError {
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
    readonly state: string,
  ) {
    super("OPTIQ_WAIT_TIMEOUT", `gave up waiting for job ${jobId} after ${timeoutMs} ms (it is still ${state})`);
  }
}

export class JobTimeoutError extends OptiqError {
  constructor(readonly timeoutMs: number) {
    super("OPTIQ_JOB_TIMEOUT", `attempt timed out after ${timeoutMs} ms`);
  }
}

/** The abort reason of an attempt that reported no progress for too long (policy `onStuck: "abort"`). */
export class JobStuckError extends OptiqError {
  constructor(readonly quietMs: number) {
    super("OPTIQ_JOB_STUCK", `no progress reported for ${quietMs} ms; aborted as stuck`);
  }
}

export class NotRunningError extends OptiqError {
  constructor(message = "the queue is stopped; start() it before submitting") {
    super("OPTIQ_NOT_RUNNING", message);
  }
}

/** The abort reason a handler sees when the worker shuts down under it. */
export class ShutdownError extends OptiqError {
  constructor() {
    super("OPTIQ_SHUTDOWN", "the worker is shutting down");
  }
}

/**
 * Thrown by a handler to fail the job now: no further attempts. Use it for
 * errors a retry cannot fix (bad input, a 4xx from an API).
 */
export class NonRetryableError extends OptiqError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("OPTIQ_NON_RETRYABLE", message, options);
  }
}

/**
 * Thrown by a handler to ask for the next attempt no sooner than `retryAfterMs`
 * (e.g. an API's Retry-After header). It still counts as a failed attempt.
 */
export class RetryAfterError extends OptiqError {
  constructor(
    message: string,
    readonly retryAfterMs: number,
    options?: { cause?: unknown },
  ) {
    super("OPTIQ_HANDLER_ERROR", message, options);
  }
}

export class HandlerError extends OptiqError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("OPTIQ_HANDLER_ERROR", message, options);
  }
}

export class LeaseLostError extends OptiqError {
  constructor(readonly jobId: string) {
    super("OPTIQ_LEASE_LOST", `job ${jobId}: this worker no longer holds the lease`);
  }
}

export class StoreError extends OptiqError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("OPTIQ_STORE", message, options);
  }
}

export class AbortedError extends OptiqError {
  constructor(message = "aborted by the caller", options?: { cause?: unknown }) {
    super("OPTIQ_ABORTED", message, options);
  }
}

/** How a sandbox (worker thread or child process) running a handler died. */
export interface SandboxCrashDetails {
  readonly isolation: "thread" | "process";
  /** The exit code, or null if it was killed by a signal or has not exited. */
  readonly exitCode: number | null;
  /** The signal that killed the process, e.g. "SIGKILL", or null. */
  readonly signal: string | null;
  /** It hit its memory limit (`resourceLimits`). */
  readonly outOfMemory: boolean;
}

/** The thread or process running a sandboxed handler died; the attempt fails and is retried per the job's policy. */
export class SandboxCrashError extends OptiqError implements SandboxCrashDetails {
  readonly isolation: "thread" | "process";
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly outOfMemory: boolean;
  constructor(message: string, details: SandboxCrashDetails, options?: { cause?: unknown }) {
    super("OPTIQ_SANDBOX_CRASH", message, options);
    this.isolation = details.isolation;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.outOfMemory = details.outOfMemory;
  }
}

/**
 * A sandbox handler module does not exist (thrown by define), cannot be
 * loaded or exports no handler (fails the attempt). Never retried: it extends
 * NonRetryableError, with its own code.
 */
export class SandboxModuleError extends NonRetryableError {
  override readonly code: ErrorCode = "OPTIQ_SANDBOX_MODULE";
  override readonly status: number = ERROR_CODES.OPTIQ_SANDBOX_MODULE.status;
  constructor(
    message: string,
    readonly module: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An HTTP request without the server's bearer token, or with a wrong one. */
export class UnauthorizedError extends OptiqError {
  constructor(message = "a valid bearer token is required") {
    super("OPTIQ_UNAUTHORIZED", message);
  }
}

export class RouteNotFoundError extends OptiqError {
  constructor(
    readonly method: string,
    readonly path: string,
  ) {
    super("OPTIQ_ROUTE_NOT_FOUND", `no route for ${method} ${path}`);
  }
}

/** The HTTP server already holds its `maxEventStreams` event streams. */
export class TooManyStreamsError extends OptiqError {
  constructor(readonly limit: number) {
    super("OPTIQ_TOO_MANY_STREAMS", `${limit} event streams are open, the most this server allows`);
  }
}

/** What an HTTP client sees of an unexpected failure; the server logs the original. */
export class InternalError extends OptiqError {
  constructor(message = "internal server error") {
    super("OPTIQ_INTERNAL", message);
  }
}

function describe(value: unknown): string {
  if (value && typeof value === "object" && "message" in value) return String((value as { message: unknown }).message);
  return String(value);
}
