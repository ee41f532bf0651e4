import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import * as api from "../../src/index.js";
import { ERROR_CODES, OptiqError, type ErrorCode } from "../../src/core/errors.js";

const DOC_PATH = new URL("../../docs/errors.md", import.meta.url);
const doc = readFileSync(DOC_PATH, "utf8");
const codes = Object.keys(ERROR_CODES) as ErrorCode[];

interface Row {
  code: string;
  classes: string[];
  status: number;
  meaning: string;
  todo: string;
}

/** The rows of the codes table: `| \`OPTIQ_X\` | \`ClassA\`, \`ClassB\` | 400 | meaning | what to do |`. */
function tableRows(): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const line of doc.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    // a table line starts and ends with a pipe: ["", c1, c2, c3, c4, c5, ""]
    if (cells.length !== 7 || !/^`OPTIQ_[A-Z_]+`$/.test(cells[1] ?? "")) continue;
    const code = (cells[1] ?? "").slice(1, -1);
    expect(rows.has(code), `${code} has two rows in docs/errors.md`).toBe(false);
    rows.set(code, {
      code,
      classes: [...(cells[2] ?? "").matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]!),
      status: Number(cells[3]),
      meaning: cells[4] ?? "",
      todo: cells[5] ?? "",
    });
  }
  return rows;
}

/** Every exported class that is OptiqError or extends it. */
type ErrorClass = abstract new (...args: never[]) => OptiqError;

function exportedErrorClasses(): [string, ErrorClass][] {
  const out: [string, ErrorClass][] = [];
  for (const [name, value] of Object.entries(api as Record<string, unknown>)) {
    if (typeof value !== "function") continue;
    if (value === OptiqError || (value as { prototype?: unknown }).prototype instanceof OptiqError) {
      out.push([name, value as ErrorClass]);
    }
  }
  return out;
}

/** One instance of each exported error class. A new class must be added here, so the doc test covers it. */
const SAMPLES: Record<string, () => OptiqError> = {
  OptiqError: () => new OptiqError("OPTIQ_STORE", "base"),
  ValidationError: () => new api.ValidationError("options.priority", "must be an integer"),
  UnknownJobNameError: () => new api.UnknownJobNameError("nope"),
  PayloadTooLargeError: () => new api.PayloadTooLargeError("input", 2000, 1000),
  QueueFullError: () => new api.QueueFullError(10, 10),
  JobNotFoundError: () => new api.JobNotFoundError("1"),
  JobFailedError: () => new api.JobFailedError("1", 3, new Error("boom")),
  JobCancelledError: () => new api.JobCancelledError("1", "no longer needed"),
  WaitTimeoutError: () => new api.WaitTimeoutError("1", 100, "running"),
  JobTimeoutError: () => new api.JobTimeoutError(100),
  JobStuckError: () => new api.JobStuckError(600_000),
  NotRunningError: () => new api.NotRunningError(),
  ShutdownError: () => new api.ShutdownError(),
  NonRetryableError: () => new api.NonRetryableError("bad input"),
  RetryAfterError: () => new api.RetryAfterError("rate limited", 5000),
  HandlerError: () => new api.HandlerError("handler failed"),
  LeaseLostError: () => new api.LeaseLostError("1"),
  StoreError: () => new api.StoreError("connection refused"),
  SandboxCrashError: () =>
    new api.SandboxCrashError("the sandbox child process was killed by signal SIGKILL", {
      isolation: "process",
      exitCode: null,
      signal: "SIGKILL",
      outOfMemory: false,
    }),
  SandboxModuleError: () => new api.SandboxModuleError("handler module exports no handler", "file:///app/h.js"),
  AbortedError: () => new api.AbortedError(),
  UnauthorizedError: () => new api.UnauthorizedError(),
  RouteNotFoundError: () => new api.RouteNotFoundError("GET", "/nope"),
  TooManyStreamsError: () => new api.TooManyStreamsError(100),
  InternalError: () => new api.InternalError(),
};

describe("docs/errors.md", () => {
  it("names every code in ERROR_CODES", () => {
    const named = new Set(doc.match(/OPTIQ_[A-Z_]+/g) ?? []);
    const missing = codes.filter((code) => !named.has(code));
    expect(missing).toEqual([]);
  });

  it("names no code that does not exist", () => {
    const named = new Set(doc.match(/OPTIQ_[A-Z_]+/g) ?? []);
    const unknown = [...named].filter((code) => !(code in ERROR_CODES));
    expect(unknown).toEqual([]);
  });

  it("has one table row per code, with its HTTP status, a meaning and what to do", () => {
    const rows = tableRows();
    expect([...rows.keys()].sort()).toEqual([...codes].sort());
    for (const code of codes) {
      const row = rows.get(code)!;
      expect(row.status, `${code} status`).toBe(ERROR_CODES[code].status);
      expect(row.classes.length, `${code} names its class(es)`).toBeGreaterThan(0);
      expect(row.meaning.length, `${code} meaning`).toBeGreaterThan(10);
      expect(row.todo.length, `${code} what to do`).toBeGreaterThan(3);
    }
  });

  it("explains OptiqError, code and ValidationError.field", () => {
    expect(doc).toContain("OptiqError");
    expect(doc).toMatch(/`code`/);
    expect(doc).toContain("ValidationError.field");
  });

  it("covers every exported error class (a new class needs a sample above)", () => {
    const names = exportedErrorClasses().map(([name]) => name);
    expect(names).toContain("OptiqError");
    expect(names).toContain("ValidationError");
    expect(names.filter((n) => !(n in SAMPLES))).toEqual([]);
    expect(Object.keys(SAMPLES).filter((n) => !names.includes(n))).toEqual([]);
  });

  it.each(Object.keys(SAMPLES).filter((n) => n !== "OptiqError"))(
    "%s: its code and status match ERROR_CODES, and the doc lists it under that code",
    (name) => {
      const exported = exportedErrorClasses().find(([n]) => n === name);
      expect(exported, `${name} is exported from src/index.ts`).toBeDefined();
      const err = SAMPLES[name]!();
      expect(err).toBeInstanceOf(exported![1]);
      expect(err).toBeInstanceOf(OptiqError);
      expect(err).toBeInstanceOf(Error);
      expect(err.name).toBe(name);
      expect(err.code in ERROR_CODES).toBe(true);
      expect(err.status).toBe(ERROR_CODES[err.code].status);
      const row = tableRows().get(err.code);
      expect(row, `docs/errors.md has a row for ${err.code}`).toBeDefined();
      expect(row!.classes).toContain(name);
    },
  );

  it("lists only exported classes in the class column", () => {
    const exported = new Set(exportedErrorClasses().map(([n]) => n));
    for (const row of tableRows().values()) {
      for (const cls of row.classes) expect(exported.has(cls), `${row.code}: ${cls} is exported`).toBe(true);
    }
  });

  it("ValidationError.field names the argument", () => {
    const err = SAMPLES.ValidationError!() as api.ValidationError;
    expect(err.field).toBe("options.priority");
    expect(err.message).toContain("options.priority");
  });
});
