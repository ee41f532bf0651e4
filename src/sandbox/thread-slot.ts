/** ThreadSlot: a Slot backed by a worker thread (worker_threads). */
import { Worker } from "node:worker_threads";
import type { FromRunner, ToRunner } from "./protocol.js";
import { Slot, type SandboxResourceLimits } from "./slot.js";
import { OWN_EXT, execArgvWithoutTsx, needsTsx, resolveTsx } from "./tsx.js";

export class ThreadSlot extends Slot {
  private readonly worker: Worker;
  private lastError: Error | null = null;

  constructor(limits: SandboxResourceLimits, typescriptModule: boolean) {
    super("thread", limits);
    const runner = new URL(`./thread-runner${OWN_EXT}`, import.meta.url);
    const resourceLimits =
      limits.maxOldGenerationSizeMb === undefined
        ? undefined
        : { maxOldGenerationSizeMb: limits.maxOldGenerationSizeMb };
    if (needsTsx(typescriptModule)) {
      // worker threads do not inherit the parent's module hooks and (Node 20) ignore --import:
      // register tsx inside the thread, then load the runner through it
      const tsx = resolveTsx();
      const boot =
        `const { register } = await import(${JSON.stringify(tsx.api)});\n` +
        `register();\n` +
        `await import(${JSON.stringify(runner.href)});\n`;
      this.worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), {
        execArgv: execArgvWithoutTsx(),
        resourceLimits,
      });
    } else {
      this.worker = new Worker(runner, { resourceLimits });
    }
    this.worker.on("message", (message: FromRunner) => this.received(message));
    this.worker.on("error", (err: Error) => {
      this.lastError = err;
    });
    this.worker.on("exit", (exitCode) => {
      const err = this.lastError;
      const outOfMemory = (err as { code?: unknown } | null)?.code === "ERR_WORKER_OUT_OF_MEMORY";
      this.died({ exitCode, signal: null, outOfMemory, error: outOfMemory ? null : err });
    });
  }

  get pid(): number {
    return this.worker.threadId;
  }

  send(message: ToRunner): void {
    if (!this.dead) this.worker.postMessage(message);
  }

  protected stop(): void {
    void this.worker.terminate();
  }

  ref(): void {
    this.worker.ref();
  }

  unref(): void {
    this.worker.unref();
  }
}
