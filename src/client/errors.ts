import { ERROR_CODES, OptiqError, type ErrorCode } from "../core/errors.js";

/**
 * The client got no usable answer: the server refused or dropped the
 * connection, or did not answer within `fetchTimeoutMs`. The call can be retried.
 */
export class ConnectionError extends OptiqError {
  constructor(
    message: string,
    /** The URL the client asked. */
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super("OPTIQ_CONNECTION", message, options);
  }
}

/**
 * An error response this client does not rebuild into its own class (e.g.
 * `OPTIQ_SHUTDOWN`), or a response that is not optiq's at all (a proxy's
 * error page, a code this client does not know: `code` is then
 * `OPTIQ_CONNECTION` and `remoteCode` holds what the server said).
 */
export class HttpError extends OptiqError {
  override readonly status: number;
  /** The code in the response body, as sent; null when the body carried none. */
  readonly remoteCode: string | null;
  /** The response body: parsed JSON, or the raw text when it was not JSON. */
  readonly body: unknown;

  constructor(status: number, remoteCode: string | null, message: string, body: unknown) {
    super(isKnownCode(remoteCode) ? remoteCode : "OPTIQ_CONNECTION", message);
    this.status = status;
    this.remoteCode = remoteCode;
    this.body = body;
  }
}

export function isKnownCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CODES, code);
}
