import { parentPort } from "node:worker_threads";
import { startRunner } from "./runner-core.js";

/** Entry point of a sandbox worker thread (see SandboxPool). */
const port = parentPort;
if (!port) throw new Error("optiq thread-runner must run in a worker thread");
startRunner({
  send: (message) => port.postMessage(message),
  onMessage: (listener) => port.on("message", listener),
});
