import { InvalidArgumentError } from "commander";

/** commander argument parsers: a bad value is a usage error (exit 2) naming the option. */
export function integer(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n)) throw new InvalidArgumentError("must be an integer.");
  return n;
}

export function nonNegative(value: string): number {
  const n = integer(value);
  if (n < 0) throw new InvalidArgumentError("must be 0 or more.");
  return n;
}

export function positive(value: string): number {
  const n = integer(value);
  if (n < 1) throw new InvalidArgumentError("must be 1 or more.");
  return n;
}

export function port(value: string): number {
  const n = integer(value);
  if (n < 0 || n > 65_535) throw new InvalidArgumentError("must be a port number, 0-65535 (0: any free port).");
  return n;
}

/** The job input: JSON text. */
export function jsonInput(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch (err) {
    throw new InvalidArgumentError(`input is not valid JSON (${(err as Error).message}).`);
  }
}

/** A server URL: http or https. */
export function url(value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new InvalidArgumentError("not a valid URL (e.g. http://127.0.0.1:8080).");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new InvalidArgumentError(`must be an http:// or https:// URL, not ${parsed.protocol}//.`);
  }
  return value;
}
