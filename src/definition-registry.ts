import type { DefineOptions, Handler } from "./core/definition.js";
import { ValidationError } from "./core/errors.js";
import type { Logger } from "./core/logger.js";
import { SlidingWindowLimiter } from "./core/rate-limiter.js";
import { checkRateLimit, checkString } from "./core/validate.js";
import { checkConcurrency, resolveJobDefaults, type ResolvedJobDefaults } from "./options.js";
import {
  isSandboxedHandler,
  sandboxDefineOptions,
  sandboxHandler,
  type SandboxedHandler,
  type SandboxSpec,
} from "./sandbox/handler.js";
import type { ResolvedDefinition } from "./worker/definition.js";

export interface DefinitionRegistryConfig {
  logger: Logger;
  maxPayloadBytes: number;
  /** The queue's defaults, which each name's options override. */
  jobDefaults: ResolvedJobDefaults;
  /** A handler was (re)defined: the worker may now claim its jobs. */
  onHandler: () => void;
}

/**
 * The job names this queue knows, with their options resolved against the
 * queue's defaults: defined ones (with a handler that runs here) and declared
 * ones (submitted here, run by workers elsewhere).
 */
export class DefinitionRegistry {
  private readonly definitions = new Map<string, ResolvedDefinition>();
  /** Thread/process pools of sandboxed handlers; closed by stop(), restarted lazily. */
  private readonly sandboxes = new Set<SandboxedHandler>();

  constructor(private readonly config: DefinitionRegistryConfig) {}

  /** Every name, for the worker (a live view: later define() calls show in it). */
  get byName(): ReadonlyMap<string, ResolvedDefinition> {
    return this.definitions;
  }

  define(name: string, handler: Handler | SandboxSpec, options: DefineOptions): void {
    if ((typeof handler === "object" && handler !== null) || isSandboxedHandler(handler)) {
      const { logger, maxPayloadBytes, jobDefaults } = this.config;
      const sandboxed = isSandboxedHandler(handler) ? handler : sandboxHandler(handler, { logger, maxPayloadBytes });
      this.register(name, sandboxed, sandboxDefineOptions(sandboxed, options, jobDefaults.abortGraceMs));
      this.sandboxes.add(sandboxed);
      return;
    }
    if (typeof handler !== "function") throw new ValidationError("handler", "must be a function or a sandbox spec");
    this.register(name, handler, options);
  }

  declare(name: string, options: Omit<DefineOptions, "concurrency" | "rateLimit">): void {
    this.register(name, undefined, options);
  }

  /** Closes the sandboxes' pools (a later job starts them again). */
  closeSandboxes(): Promise<unknown> {
    return Promise.all([...this.sandboxes].map((s) => s.close()));
  }

  private register(name: string, handler: Handler | undefined, options: DefineOptions): void {
    checkString("name", name, 128);
    if (typeof options !== "object" || options === null) throw new ValidationError("options", "must be an object");
    const resolved = resolveJobDefaults("options", options, this.config.jobDefaults);
    const concurrency =
      options.concurrency === undefined ? Infinity : checkConcurrency("options.concurrency", options.concurrency);
    const limiter = options.rateLimit
      ? new SlidingWindowLimiter(checkRateLimit("options.rateLimit", options.rateLimit))
      : null;
    // a redefinition keeps the count of this name's handlers still running
    const previous = this.definitions.get(name);
    this.definitions.set(name, { name, handler, concurrency, limiter, ...resolved, busy: previous?.busy ?? 0 });
    if (handler) this.config.onHandler();
  }
}
