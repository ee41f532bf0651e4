import type { Handler, HandlerContext } from "../core/definition.js";
import { toJson } from "../core/validate.js";
import { abortReasonFromWire, toWireError, type FromRunner, type ToRunner } from "./protocol.js";

/** How a runner talks to its parent: a worker thread's port or a child process's IPC channel. */
export interface RunnerTransport {
  send(message: FromRunner): void;
  onMessage(listener: (message: ToRunner) => void): void;
}

class ModuleLoadError extends Error {
  readonly code = "OPTIQ_SANDBOX_MODULE";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SandboxModuleError";
  }
}

interface CurrentRun {
  readonly runId: number;
  readonly controller: AbortController;
  finished: boolean;
}

/**
 * The runner's loop, shared by the thread and the process runner: runs one
 * job at a time, forwards progress and checkpoints, posts the result (as
 * checked JSON text) or the error. It never lets a handler's failure escape:
 * only a crash of the thread or process itself ends it.
 */
export function startRunner(transport: RunnerTransport): void {
  const handlers = new Map<string, Promise<Handler>>();
  let current: CurrentRun | null = null;

  const loadHandler = (url: string): Promise<Handler> => {
    let p = handlers.get(url);
    if (!p) {
      p = importHandler(url);
      handlers.set(url, p);
    }
    return p;
  };

  const run = async (msg: Extract<ToRunner, { t: "run" }>): Promise<void> => {
    const { runId, maxPayloadBytes } = msg;
    const state: CurrentRun = { runId, controller: new AbortController(), finished: false };
    current = state;
    const finish = (out: FromRunner): void => {
      if (state.finished) return;
      state.finished = true;
      if (current === state) current = null;
      transport.send(out);
    };
    let handler: Handler;
    try {
      handler = await loadHandler(msg.moduleUrl);
    } catch (err) {
      finish({ t: "fail", runId, error: toWireError(err), module: true });
      return;
    }
    const ctx: HandlerContext = {
      signal: state.controller.signal,
      workerId: msg.workerId,
      progress(value: unknown): void {
        if (state.finished) return;
        const json = toJson("progress", value, maxPayloadBytes); // throws into the handler, as in-process
        transport.send({ t: "progress", runId, json });
      },
      checkpoint(value: unknown): void {
        if (state.finished) return;
        const json = toJson("checkpoint", value, maxPayloadBytes);
        transport.send({ t: "checkpoint", runId, json });
      },
    };
    let value: unknown;
    try {
      value = await handler(msg.job, ctx);
    } catch (err) {
      finish({ t: "fail", runId, error: toWireError(err) });
      return;
    }
    let json: string;
    try {
      json = toJson("result", value, maxPayloadBytes);
    } catch (err) {
      finish({ t: "fail", runId, error: toWireError(err) });
      return;
    }
    finish({ t: "done", runId, json });
  };

  transport.onMessage((msg) => {
    if (msg.t === "run") {
      void run(msg);
    } else if (msg.t === "abort") {
      if (current !== null && current.runId === msg.runId) current.controller.abort(abortReasonFromWire(msg.reason));
    }
  });
  transport.send({ t: "ready" });
}

async function importHandler(url: string): Promise<Handler> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new ModuleLoadError(`cannot load handler module ${url}: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
    });
  }
  const def = mod.default as Record<string, unknown> | undefined;
  const candidates: unknown[] = [mod.handler, def, typeof def === "object" && def !== null ? def.handler : undefined];
  const fn = candidates.find((c): c is Handler => typeof c === "function");
  if (!fn) {
    throw new ModuleLoadError(
      `handler module ${url} exports no handler: export the function as default or as "handler" (exports: ${Object.keys(mod).join(", ") || "none"})`,
    );
  }
  return fn;
}
