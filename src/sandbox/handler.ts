import { statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve as resolvePath } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  toRunningJob,
  type DefineOptions,
  type Handler,
  type HandlerContext,
  type RunningJob,
} from "../core/definition.js";
import { SandboxModuleError, ValidationError, type OptiqError, type SandboxCrashError } from "../core/errors.js";
import { silentLogger, type Logger } from "../core/logger.js";
import { checkDuration, checkInteger, describe } from "../core/validate.js";
import {
  SandboxPool,
  needsTsx,
  resolveTsx,
  type Isolation,
  type SandboxResourceLimits,
  type Slot,
  type SlotOwner,
} from "./pool.js";
import { fromWireError, toWireError, type FromRunner } from "./protocol.js";

/**
 * The second argument of `define` for a handler that runs in a pool of
 * worker threads or child processes instead of the worker's event loop.
 */
export interface SandboxSpec {
  /**
   * The handler module: a file path (relative paths resolve against the
   * working directory) or a file: URL. It exports the handler as `default`
   * or as `handler`: `(job, ctx) => result`, ctx offering signal, progress and checkpoint.
   */
  module: string | URL;
  /** "thread": node:worker_threads; "process": a child process (node:child_process fork). */
  isolation: Isolation;
  /** Threads/processes in the pool, each running one job at a time. Default: os.availableParallelism(). */
  poolSize?: number;
  /** After an abort (cancel, timeout, shutdown), how long the handler may take to return before it is hard-stopped. Default 1000 ms. */
  graceMs?: number;
  /** Memory limit of each thread/process; exceeding it fails the attempt with SandboxCrashError. */
  resourceLimits?: SandboxResourceLimits;
  /**
   * Runs in the worker's process after the work was stopped uncleanly (hard
   * stop after graceMs, or a crash), before the attempt ends. Errors are logged.
   */
  cleanup?: (job: RunningJob, reason: OptiqError) => void | Promise<void>;
}

/** A spec after validation, with its defaults. */
export interface ResolvedSandboxSpec {
  readonly moduleUrl: string;
  readonly isolation: Isolation;
  readonly poolSize: number;
  readonly graceMs: number;
  readonly resourceLimits: SandboxResourceLimits;
  readonly cleanup: SandboxSpec["cleanup"] | null;
}

export interface SandboxHandlerOptions {
  logger?: Logger;
  /** Largest result, progress or checkpoint (serialised), as the queue's maxPayloadBytes. Default 1 MiB. */
  maxPayloadBytes?: number;
}

/** A normal optiq Handler that runs the work in a sandbox pool, plus what its owner needs to manage the pool. */
export type SandboxedHandler = Handler & {
  readonly sandbox: ResolvedSandboxSpec & { readonly pool: SandboxPool };
  /** Stops every thread/process of the pool (a later job starts new ones). */
  close(): Promise<void>;
};

const DEFAULT_GRACE_MS = 1000;
/** The worker waits this much beyond graceMs before settling an aborted attempt itself: time for the hard stop. */
export const HARD_STOP_MARGIN_MS = 1000;
const SPEC_KEYS = new Set(["module", "isolation", "poolSize", "graceMs", "resourceLimits", "cleanup"]);
const TS_MODULE = /\.(ts|mts|cts|tsx)$/;

let nextRunId = 1;

/**
 * Validates a sandbox spec: ValidationError naming the field (`handler.isolation`, …)
 * or SandboxModuleError when the module file does not exist.
 */
export function resolveSandboxSpec(spec: unknown): ResolvedSandboxSpec {
  if (typeof spec !== "object" || spec === null || spec instanceof URL) {
    throw new ValidationError("handler", "must be a function or a sandbox spec { module, isolation }");
  }
  const s = spec as Record<string, unknown>;
  if (!("module" in s) && !("isolation" in s)) {
    throw new ValidationError("handler", "must be a function or a sandbox spec { module, isolation }");
  }
  for (const key of Object.keys(s)) {
    if (!SPEC_KEYS.has(key))
      throw new ValidationError(`handler.${key}`, `is not a sandbox option (${[...SPEC_KEYS].join(", ")})`);
  }
  if (s.isolation !== "thread" && s.isolation !== "process") {
    throw new ValidationError("handler.isolation", `must be "thread" or "process", got ${describe(s.isolation)}`);
  }
  const moduleUrl = resolveModule(s.module);
  const poolSize =
    s.poolSize === undefined ? availableParallelism() : checkInteger("handler.poolSize", s.poolSize, 1, 1024);
  const graceMs = s.graceMs === undefined ? DEFAULT_GRACE_MS : checkDuration("handler.graceMs", s.graceMs);
  const resourceLimits: SandboxResourceLimits = {};
  if (s.resourceLimits !== undefined) {
    if (typeof s.resourceLimits !== "object" || s.resourceLimits === null) {
      throw new ValidationError("handler.resourceLimits", "must be { maxOldGenerationSizeMb? }");
    }
    const limits = s.resourceLimits as Record<string, unknown>;
    for (const key of Object.keys(limits)) {
      if (key !== "maxOldGenerationSizeMb")
        throw new ValidationError(`handler.resourceLimits.${key}`, "is not a supported limit (maxOldGenerationSizeMb)");
    }
    if (limits.maxOldGenerationSizeMb !== undefined) {
      resourceLimits.maxOldGenerationSizeMb = checkInteger(
        "handler.resourceLimits.maxOldGenerationSizeMb",
        limits.maxOldGenerationSizeMb,
        1,
        1024 * 1024,
      );
    }
  }
  if (s.cleanup !== undefined && typeof s.cleanup !== "function") {
    throw new ValidationError("handler.cleanup", `must be a function, got ${describe(s.cleanup)}`);
  }
  return {
    moduleUrl,
    isolation: s.isolation,
    poolSize,
    graceMs,
    resourceLimits,
    cleanup: (s.cleanup as SandboxSpec["cleanup"]) ?? null,
  };
}

function resolveModule(value: unknown): string {
  let url: URL;
  if (value instanceof URL) url = value;
  else if (typeof value === "string" && value.length > 0) {
    // a scheme of two letters or more is a URL ("C:\\x" is a Windows path)
    try {
      url = /^[a-z][a-z0-9+.-]+:/i.test(value) ? new URL(value) : pathToFileURL(resolvePath(process.cwd(), value));
    } catch {
      throw new ValidationError("handler.module", `is not a valid path or URL: ${describe(value)}`);
    }
  } else {
    throw new ValidationError("handler.module", `must be a file path or a file: URL, got ${describe(value)}`);
  }
  if (url.protocol !== "file:")
    throw new ValidationError("handler.module", `must be a file path or a file: URL, got ${url.protocol} URL`);
  const path = fileURLToPath(url);
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    // missing: reported below
  }
  if (!isFile) throw new SandboxModuleError(`handler.module: ${path} does not exist or is not a file`, url.href);
  if (TS_MODULE.test(path) && needsTsx(true)) {
    try {
      resolveTsx();
    } catch (err) {
      throw new SandboxModuleError(
        `handler.module: ${path} is TypeScript; install tsx to run it, or point at compiled JS`,
        url.href,
        {
          cause: err,
        },
      );
    }
  }
  return url.href;
}

/**
 * A Handler running `spec.module`'s handler in a pool of threads or
 * processes. Abort: the signal is forwarded; if the work has not returned
 * after graceMs, the thread/process is hard-stopped, `cleanup` runs, a fresh
 * one takes its slot, and only then the promise rejects with the abort reason.
 * A crash (exit, signal, out of memory) rejects with SandboxCrashError.
 */
export function sandboxHandler(spec: SandboxSpec, options: SandboxHandlerOptions = {}): SandboxedHandler {
  const resolved = resolveSandboxSpec(spec);
  const logger = options.logger ?? silentLogger;
  const maxPayloadBytes = options.maxPayloadBytes ?? 1024 * 1024;
  const { moduleUrl, isolation, graceMs, cleanup } = resolved;
  const pool = new SandboxPool({
    isolation,
    size: resolved.poolSize,
    resourceLimits: resolved.resourceLimits,
    typescriptModule: TS_MODULE.test(moduleUrl),
  });

  const runCleanup = async (job: RunningJob, reason: unknown): Promise<void> => {
    if (!cleanup) return;
    try {
      await cleanup(job, reason as OptiqError);
    } catch (err) {
      logger.error({ err, jobId: job.id, name: job.name }, "sandbox cleanup hook failed");
    }
  };

  const execute = (slot: Slot, job: RunningJob, ctx: HandlerContext): Promise<unknown> =>
    new Promise<unknown>((resolve, reject) => {
      const signal = ctx.signal;
      const runId = nextRunId++;
      let runSent = false;
      let settled = false;
      /** A hard stop or a crash is being handled: the work is gone, messages no longer count. */
      let stopping = false;
      let graceTimer: NodeJS.Timeout | null = null;

      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        if (graceTimer !== null) clearTimeout(graceTimer);
        graceTimer = null;
        fn();
      };

      const forward = (what: "progress" | "checkpoint", json: string): void => {
        try {
          const value: unknown = JSON.parse(json);
          if (what === "progress") ctx.progress(value);
          else ctx.checkpoint(value);
        } catch (err) {
          logger.warn({ err, jobId: job.id, name: job.name }, `sandboxed ${what} could not be recorded`);
        }
      };

      const owner: SlotOwner = {
        onMessage(message: FromRunner): void {
          if (settled || stopping || message.t === "ready" || message.runId !== runId) return;
          switch (message.t) {
            case "progress":
            case "checkpoint":
              forward(message.t, message.json);
              return;
            case "done": {
              pool.release(slot);
              settle(() => resolve(JSON.parse(message.json)));
              return;
            }
            case "fail":
              pool.release(slot);
              settle(() => reject(fromWireError(message.error, moduleUrl, message.module === true)));
              return;
          }
        },
        onDeath(crash: SandboxCrashError): void {
          if (settled || stopping) return; // a hard stop in progress finishes the attempt
          stopping = true;
          if (graceTimer !== null) clearTimeout(graceTimer);
          logger.warn(
            { jobId: job.id, name: job.name, attempt: job.attempt, isolation, err: crash },
            "sandboxed handler crashed; replacing its thread/process",
          );
          pool.replace(slot);
          void runCleanup(job, crash).then(() => settle(() => reject(signal.aborted ? signal.reason : crash)));
        },
      };

      const hardStop = async (): Promise<void> => {
        if (settled || stopping) return;
        stopping = true;
        const reason: unknown = signal.reason;
        logger.warn(
          { jobId: job.id, name: job.name, isolation, pid: slot.pid, graceMs, reason: (reason as OptiqError)?.code },
          "sandboxed handler did not stop within graceMs of its abort; hard-stopping it",
        );
        await slot.kill();
        pool.replace(slot);
        await runCleanup(job, reason);
        settle(() => reject(reason));
      };

      function onAbort(): void {
        if (settled || stopping) return;
        if (!runSent) {
          // the work never started: a ready slot is healthy; one still starting may never be, so it is replaced
          if (slot.isReady) {
            pool.release(slot);
            settle(() => reject(signal.reason));
          } else {
            stopping = true;
            void slot.kill().then(() => {
              pool.replace(slot);
              settle(() => reject(signal.reason));
            });
          }
          return;
        }
        slot.send({ t: "abort", runId, reason: toWireError(signal.reason) });
        graceTimer = setTimeout(() => void hardStop(), graceMs);
      }

      slot.owner = owner;
      signal.addEventListener("abort", onAbort, { once: true });
      slot.ready.then(
        () => {
          if (settled || stopping) return;
          slot.send({ t: "run", runId, job: toRunningJob(job), moduleUrl, workerId: ctx.workerId, maxPayloadBytes });
          runSent = true;
        },
        () => undefined, // died before it was ready: onDeath settles the attempt
      );
      if (signal.aborted) onAbort();
    });

  const run: Handler = async (job, ctx) => {
    const slot = await pool.acquire(ctx.signal);
    return execute(slot, job, ctx);
  };
  return Object.assign(run, {
    sandbox: { ...resolved, pool },
    close: () => pool.close(),
  });
}

/** A handler made by sandboxHandler() (it carries its pool). */
export function isSandboxedHandler(value: unknown): value is SandboxedHandler {
  return (
    typeof value === "function" &&
    typeof (value as Partial<SandboxedHandler>).close === "function" &&
    (value as Partial<SandboxedHandler>).sandbox?.pool instanceof SandboxPool
  );
}

/**
 * define()'s options for a sandboxed handler: concurrency defaults to the
 * pool size (more would only queue inside the pool), and the worker's abort
 * grace covers graceMs plus the hard stop, so the slot is freed only once
 * the work has really stopped.
 */
export function sandboxDefineOptions(
  handler: SandboxedHandler,
  options: DefineOptions,
  defaultAbortGraceMs: number,
): DefineOptions {
  if (typeof options !== "object" || options === null) return options; // define reports it
  const grace = options.abortGraceMs ?? defaultAbortGraceMs;
  return {
    ...options,
    concurrency: options.concurrency ?? handler.sandbox.poolSize,
    abortGraceMs: typeof grace === "number" ? Math.max(grace, handler.sandbox.graceMs + HARD_STOP_MARGIN_MS) : grace,
  };
}
