/** The subset of pino's interface optiq logs through; pass a pino logger as is. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** pino's: lets the hot path skip building debug records nobody reads. */
  isLevelEnabled?(level: string): boolean;
}

const noop = (): void => undefined;

export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, isLevelEnabled: () => false };

/** Whether debug records reach anyone (loggers without `isLevelEnabled` get them all). */
export function debugEnabled(logger: Logger): boolean {
  return logger.isLevelEnabled ? logger.isLevelEnabled("debug") : true;
}
