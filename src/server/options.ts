import { fileURLToPath } from "node:url";
import { systemClock, type Clock } from "../core/clock.js";
import { ValidationError } from "../core/errors.js";
import { silentLogger, type Logger } from "../core/logger.js";
import { checkDuration, checkInteger, checkString } from "../core/validate.js";
import type { Optiq } from "../optiq.js";

export interface ServerOptions {
  /** The queue to serve. The server never starts or stops it. */
  queue: Optiq;
  /** When set, `/api/*` and `/metrics` need `Authorization: Bearer <token>`. */
  token?: string;
  /** Serve the web dashboard at `/` (default true). */
  dashboard?: boolean;
  /** Where the dashboard's files are (default: the package's `dashboard/` folder). */
  dashboardDir?: string | URL;
  /** The longest `GET /api/jobs/:id/result` waits, in ms (default 60 000). */
  maxResultWaitMs?: number;
  /** Request bodies above this many bytes get 413 (default 2 MiB). */
  bodyLimitBytes?: number;
  /** Concurrent `GET /api/events` streams (default 100). */
  maxEventStreams?: number;
  /** How often each event stream receives a `stats` event, in ms (default 1000). */
  statsIntervalMs?: number;
  /**
   * How long `close()` lets responses in flight finish before it destroys
   * their sockets, in ms (default 5000): a client that stops reading cannot
   * hold the close up.
   */
  closeGraceMs?: number;
  /** Request logs go here (default: silent). */
  logger?: Logger;
  /** Times the event streams' stats and keep-alive ticks (default: the system clock); for tests. */
  clock?: Clock;
}

export interface ServerSettings {
  queue: Optiq;
  token: string | null;
  dashboardDir: string | null;
  maxResultWaitMs: number;
  bodyLimitBytes: number;
  maxEventStreams: number;
  statsIntervalMs: number;
  closeGraceMs: number;
  logger: Logger;
  clock: Clock;
}

const DEFAULT_DASHBOARD_DIR = new URL("../../dashboard/", import.meta.url);

export function resolveServerSettings(options: ServerOptions): ServerSettings {
  if (typeof options !== "object" || options === null) throw new ValidationError("options", "must be an object");
  const { queue } = options;
  if (typeof queue !== "object" || queue === null || typeof queue.submit !== "function") {
    throw new ValidationError("options.queue", "must be an Optiq instance");
  }
  const dashboard = options.dashboard ?? true;
  if (typeof dashboard !== "boolean") throw new ValidationError("options.dashboard", "must be a boolean");
  const dir = options.dashboardDir ?? DEFAULT_DASHBOARD_DIR;
  return {
    queue,
    token: options.token === undefined ? null : checkToken(options.token),
    dashboardDir: dashboard
      ? dir instanceof URL
        ? fileURLToPath(dir)
        : checkString("options.dashboardDir", dir, 4096)
      : null,
    maxResultWaitMs: checkDuration("options.maxResultWaitMs", options.maxResultWaitMs ?? 60_000, { allowZero: false }),
    bodyLimitBytes: checkInteger("options.bodyLimitBytes", options.bodyLimitBytes ?? 2 * 1024 * 1024, 1, 2 ** 31 - 1),
    maxEventStreams: checkInteger("options.maxEventStreams", options.maxEventStreams ?? 100, 0, 1_000_000),
    statsIntervalMs: checkDuration("options.statsIntervalMs", options.statsIntervalMs ?? 1000, { allowZero: false }),
    closeGraceMs: checkDuration("options.closeGraceMs", options.closeGraceMs ?? 5000),
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? systemClock,
  };
}

/**
 * A bearer token travels in a header, so only visible ASCII can ever match
 * (RFC 6750's characters); a token with a space or a "é" would be accepted
 * here and then refuse every request.
 */
function checkToken(token: unknown): string {
  const value = checkString("options.token", token, 4096);
  if (!/^[\x21-\x7E]+$/.test(value)) {
    throw new ValidationError(
      "options.token",
      "must be visible ASCII characters only (no spaces), as HTTP headers carry it",
    );
  }
  return value;
}
