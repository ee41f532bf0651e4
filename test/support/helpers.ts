import type { Optiq } from "../../src/optiq.js";
import type { OptiqEventName, OptiqEvents } from "../../src/core/events.js";
import type { Logger } from "../../src/core/logger.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface LogRecord {
  level: LogLevel;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A Logger that keeps every call, for assertions. */
export interface CapturingLogger extends Logger {
  readonly records: LogRecord[];
  /** Records whose message is exactly `msg` (optionally of one level). */
  find(msg: string, level?: LogLevel): LogRecord[];
}

export function capturingLogger(): CapturingLogger {
  const records: LogRecord[] = [];
  const at =
    (level: LogLevel) =>
    (obj: object, msg?: string): void => {
      records.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return {
    records,
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    find: (msg, level) => records.filter((r) => r.msg === msg && (level === undefined || r.level === level)),
  };
}

/** Resolves with the payload of the next `event` (optionally the next one matching `filter`). */
export function once<E extends OptiqEventName>(
  q: Optiq,
  event: E,
  filter: (payload: OptiqEvents[E]) => boolean = () => true,
): Promise<OptiqEvents[E]> {
  return new Promise((resolve) => {
    const off = q.on(event, (payload) => {
      if (!filter(payload)) return;
      off();
      resolve(payload);
    });
  });
}

/** Resolves once `event` has fired `count` times, with every payload seen. */
export function times<E extends OptiqEventName>(q: Optiq, event: E, count: number): Promise<OptiqEvents[E][]> {
  return new Promise((resolve) => {
    const seen: OptiqEvents[E][] = [];
    const off = q.on(event, (payload) => {
      seen.push(payload);
      if (seen.length === count) {
        off();
        resolve(seen);
      }
    });
  });
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves with the rejection reason of `promise`; fails if it fulfils. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject, but it fulfilled");
}

/** Returns what `fn` throws; fails if it returns. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to throw, but it returned");
}
