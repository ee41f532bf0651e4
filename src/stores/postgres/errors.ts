import { OptiqError, StoreError } from "../../core/errors.js";

/**
 * SQLSTATEs and socket errors meaning "this connection is gone": the server
 * terminated it (pg_terminate_backend, shutdown, crash), or the network did.
 */
const CONNECTION_CODES = new Set([
  "57P01", // admin_shutdown: terminating connection due to administrator command
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "08000", // connection_exception
  "08001", // sqlclient_unable_to_establish_sqlconnection
  "08003", // connection_does_not_exist
  "08004", // sqlserver_rejected_establishment_of_sqlconnection
  "08006", // connection_failure
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
]);

const CONNECTION_MESSAGE =
  /connection terminated|terminating connection|connection error|not queryable|server closed the connection|socket hang up|timeout exceeded when trying to connect/i;

/** True when `error` says the connection was lost, so a fresh one may succeed. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && CONNECTION_CODES.has(code)) return true;
  return CONNECTION_MESSAGE.test(error.message);
}

/** optiq errors pass through; anything else (driver, SQL) becomes a StoreError with the original as cause. */
export function toStoreError(operation: string, error: unknown): Error {
  if (error instanceof OptiqError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StoreError(`PostgresStore.${operation} failed: ${message}`, { cause: error });
}
