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
