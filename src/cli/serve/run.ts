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

/**
 * `optiq serve`: store, queue, handlers, server; then waits for SIGINT or
 * SIGTERM and winds down in the reverse order — the server first, so no new
 * work arrives while running jobs get `graceMs` to finish.
 */
export async function serve(flags: ServeFlags): Promise<void> {
  // the handlers module first: a mistake there should not leave a store opened behind it
  const handlers = flags.handlers === undefined ? null : await loadHandlers(flags.handlers);
  const { store, where } = await openStore(flags);
  const options: OptiqOptions = { ...handlers?.options, store };
  if (flags.concurrency !== undefined) options.concurrency = flags.concurrency;
  const queue = new Optiq(options);
  let server: Awaited<ReturnType<typeof createServer>> | null = null;
  const signalled = shutdownSignal();
  try {
    await handlers?.setup(queue);
    await queue.start();
    server = await createServer({ queue, ...(flags.token ? { token: flags.token } : {}), dashboard: flags.dashboard });
    const url = await server.listen({ port: flags.port, host: flags.host });
    // one write, so a reader sees the whole banner at once; its first line is the one scripts parse
    const banner = [`optiq listening on ${url}`];
    if (flags.dashboard) banner.push(`dashboard: ${url}/`);
    banner.push(`store: ${where}`);
    if (handlers) banner.push(`handlers: ${handlers.path}`);
    if (flags.token) banner.push("token: required on /api/* and /metrics");
    print(banner.join("\n"));
    const signal = await signalled.promise;
    print(`${signal}: closing the server, then letting running jobs finish (up to ${flags.graceMs} ms)`);
  } finally {
    signalled.dispose();
    // a second signal while winding down means "now"
    const force = (): void => process.exit(1);
    process.once("SIGINT", force);
    process.once("SIGTERM", force);
    try {
      await server?.close();
      await queue.stop({ graceful: true, timeoutMs: flags.graceMs });
    } finally {
      process.off("SIGINT", force);
      process.off("SIGTERM", force);
    }
  }
  print("optiq stopped");
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
