import { Optiq } from "../../optiq.js";
import type { OptiqOptions } from "../../options.js";
import { createServer } from "../../server/index.js";
import { print } from "../context.js";
import { loadHandlers } from "./handlers-module.js";
import { openStore, type StoreFlags } from "./store.js";

export interface ServeFlags extends StoreFlags {
  port: number;
  host: string;
  handlers?: string;
  concurrency?: number;
  token?: string;
  dashboard: boolean;
  graceMs: number;
}

/** The exit code when a signal arrives before the server is listening (as a shell reports an interrupted command). */
export const INTERRUPTED_EXIT_CODE = 130;

type Server = Awaited<ReturnType<typeof createServer>>;

/** What startup has opened so far: what a teardown has to close. */
interface Parts {
  queue: Optiq | null;
  /** queue.start() has resolved: stop() has something to stop. */
  queueStarted: boolean;
  server: Server | null;
  /** A signal stopped startup: the steps still under way go no further. */
  cancelled: boolean;
}

/**
 * `optiq serve`: store, queue, handlers, server; then waits for SIGINT or
 * SIGTERM and winds down in the reverse order — the server first, so no new
 * work arrives while running jobs get `graceMs` to finish — and exits 0.
 *
 * Signals are listened for from the start: one that arrives during startup
 * (a database that never answers, a slow handlers module) stops it, closes
 * what was opened and exits 130. A second signal while winding down exits 1
 * at once. The process exits once "optiq stopped" is printed, even when a
 * handler that ignored its abort still holds a timer or a socket.
 *
 * Resolves never; rejects with the error that made startup fail, after
 * closing what it had opened.
 */
export async function serve(flags: ServeFlags): Promise<never> {
  const signalled = shutdownSignal();
  const parts: Parts = { queue: null, queueStarted: false, server: null, cancelled: false };
  const starting = start(flags, parts);
  // a startup that fails after a signal won the race is torn down all the same: not an unhandled rejection
  starting.catch(() => undefined);
  let early: NodeJS.Signals | null;
  try {
    early = await Promise.race([starting.then(() => null), signalled.promise]);
  } catch (err) {
    signalled.dispose();
    await whileForcible(() => teardown(parts, 0));
    throw err;
  }
  if (early !== null) {
    parts.cancelled = true;
    signalled.dispose();
    process.stderr.write(`${early} while starting: stopping without serving\n`);
    await whileForcible(() => teardown(parts, 0));
    return exit(INTERRUPTED_EXIT_CODE);
  }
  const signal = await signalled.promise;
  signalled.dispose();
  print(`${signal}: closing the server, then letting running jobs finish (up to ${flags.graceMs} ms)`);
  await whileForcible(async () => {
    await teardown(parts, flags.graceMs);
    print("optiq stopped");
    // a handler that ignored its abort may still hold a timer: do not wait for the event loop to empty
    await exit(0);
  });
  throw new Error("unreachable");
}

async function start(flags: ServeFlags, parts: Parts): Promise<void> {
  // the handlers module first: a mistake there should not leave a store opened behind it
  const handlers = flags.handlers === undefined ? null : await loadHandlers(flags.handlers);
  if (parts.cancelled) return;
  const { store, where } = await openStore(flags);
  const options: OptiqOptions = { ...handlers?.options, store };
  if (flags.concurrency !== undefined) options.concurrency = flags.concurrency;
  const queue = (parts.queue = new Optiq(options));
  await handlers?.setup(queue);
  if (parts.cancelled) return;
  await queue.start();
  parts.queueStarted = true;
  if (parts.cancelled) return;
  const server = (parts.server = await createServer({
    queue,
    ...(flags.token ? { token: flags.token } : {}),
    dashboard: flags.dashboard,
  }));
  const url = await server.listen({ port: flags.port, host: flags.host });
  // one write, so a reader sees the whole banner at once; its first line is the one scripts parse
  const banner = [`optiq listening on ${url}`];
  if (flags.dashboard) banner.push(`dashboard: ${url}/`);
  banner.push(`store: ${where}`);
  if (handlers) banner.push(`handlers: ${handlers.path}`);
  if (flags.token) banner.push("token: required on /api/* and /metrics");
  print(banner.join("\n"));
}

/**
 * Closes what startup opened, the server first. A queue whose start() has
 * not resolved is left alone: its store may still be connecting (a database
 * that never answers), and the process ending releases its files and sockets.
 */
async function teardown(parts: Parts, graceMs: number): Promise<void> {
  try {
    await parts.server?.close();
  } finally {
    if (parts.queueStarted) await parts.queue?.stop({ graceful: graceMs > 0, timeoutMs: graceMs });
  }
}

/** Runs `work` with a second SIGINT or SIGTERM meaning "now": exit 1 at once. */
async function whileForcible<T>(work: () => Promise<T>): Promise<T> {
  const force = (): void => process.exit(1);
  process.once("SIGINT", force);
  process.once("SIGTERM", force);
  try {
    return await work();
  } finally {
    process.off("SIGINT", force);
    process.off("SIGTERM", force);
  }
}

/** Exits once what was written to stdout and stderr has been handed to the OS. */
async function exit(code: number): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || !stream.writable) return Promise.resolve();
  return new Promise((resolve) => stream.write("", () => resolve()));
}

function shutdownSignal(): { promise: Promise<NodeJS.Signals>; dispose: () => void } {
  let resolve!: (s: NodeJS.Signals) => void;
  const promise = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const onInt = (): void => resolve("SIGINT");
  const onTerm = (): void => resolve("SIGTERM");
  process.once("SIGINT", onInt);
  process.once("SIGTERM", onTerm);
  return {
    promise,
    dispose: () => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    },
  };
}
