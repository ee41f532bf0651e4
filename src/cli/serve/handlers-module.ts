import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Optiq } from "../../optiq.js";
import type { OptiqOptions } from "../../options.js";
import { resolveTsx } from "../../sandbox/tsx.js";
import { UsageError } from "../usage-error.js";

/**
 * What `--handlers <module>` exports: a default function that defines the
 * handlers on the queue (and may submit jobs), and optionally `options`
 * merged into the queue's options (`groups`, `defaults`, `rateLimit`, ...).
 */
export interface HandlersModule {
  setup: (queue: Optiq) => void | Promise<void>;
  options: Omit<OptiqOptions, "store">;
  path: string;
}

const TS_MODULE = /\.[cm]?tsx?$/;

export async function loadHandlers(spec: string): Promise<HandlersModule> {
  const path = resolve(spec);
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new UsageError(`--handlers: module ${spec} not found (looked for ${path})`);
  }
  if (TS_MODULE.test(path)) await ensureTypeScript(path);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`--handlers: module ${spec} failed to load: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
    });
  }
  const setup = mod.default;
  if (typeof setup !== "function") {
    throw new UsageError(
      `--handlers: module ${spec} has no default export function; export default (queue) => { queue.define(...) }`,
    );
  }
  const options = mod.options ?? {};
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new UsageError(`--handlers: module ${spec} exports options that are not an object`);
  }
  if ("store" in options) {
    throw new UsageError(
      `--handlers: module ${spec} sets options.store; choose the store with --db, --postgres or --memory`,
    );
  }
  return { setup: setup as HandlersModule["setup"], options: options as HandlersModule["options"], path };
}

/** A TypeScript module needs tsx's loader in this process: already there under `tsx`, registered here otherwise. */
async function ensureTypeScript(path: string): Promise<void> {
  const hooked = import.meta.url.endsWith(".ts") || process.execArgv.some((a) => a.includes("tsx"));
  if (hooked) return;
  let api: string;
  try {
    api = resolveTsx().api;
  } catch (err) {
    throw new UsageError(`--handlers: ${path} is TypeScript; install tsx to load it, or point at compiled JS`, {
      cause: err,
    });
  }
  const { register } = (await import(api)) as { register: () => unknown };
  register();
}
