import { startRunner } from "./runner-core.js";
import type { ToRunner } from "./protocol.js";

/** Entry point of a sandbox child process (see SandboxPool). */
const send = process.send?.bind(process);
if (!send) throw new Error("optiq process-runner must be started with an IPC channel (child_process.fork)");
startRunner({
  // the callback turns a failed send (parent gone) into a no-op instead of an 'error' event
  send: (message) => void send(message, undefined, undefined, () => undefined),
  onMessage: (listener) => process.on("message", (message) => listener(message as ToRunner)),
});
// the parent closed the channel (pool closed, or the parent died): nothing more to do
process.on("disconnect", () => process.exit(0));
