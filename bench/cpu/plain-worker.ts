/**
 * One thread of the bench's plain worker_threads pool: runs the very same
 * handler function optiq's sandbox runs (examples/handlers/optimize-handler.ts),
 * with a context whose progress and checkpoint go nowhere and whose signal
 * never aborts. Message in: { id, input }; message out: { id, result } or { id, error }.
 */
import { parentPort } from "node:worker_threads";
import type { HandlerContext, RunningJob } from "../../src/index.js";
import optimizeHandler, { type OptimizeJobInput } from "../../examples/handlers/optimize-handler.js";

const port = parentPort;
if (!port) throw new Error("bench/cpu/plain-worker.ts must run in a worker thread");

const ctx: HandlerContext = {
  signal: new AbortController().signal,
  workerId: "plain-pool",
  progress: () => undefined,
  checkpoint: () => undefined,
};

port.on("message", (msg: { id: number; input: OptimizeJobInput }) => {
  const job: RunningJob<OptimizeJobInput> = {
    id: String(msg.id),
    name: "optimize",
    input: msg.input,
    attempt: 1,
    maxAttempts: 1,
    priority: 0,
    group: null,
    key: null,
    checkpoint: null,
    createdAt: Date.now(),
  };
  optimizeHandler(job, ctx).then(
    (result) => port.postMessage({ id: msg.id, result }),
    (err: unknown) => port.postMessage({ id: msg.id, error: String(err) }),
  );
});
