/** ProcessSlot: a Slot backed by a forked child process (child_process). */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { FromRunner, ToRunner } from "./protocol.js";
import { Slot, type SandboxResourceLimits } from "./slot.js";
import { OWN_EXT, execArgvWithoutTsx, needsTsx, resolveTsx } from "./tsx.js";

const STDERR_TAIL = 16 * 1024;
const OOM_PATTERN = /heap out of memory|Reached heap limit|Allocation failed/;

export class ProcessSlot extends Slot {
  private readonly child: ChildProcess;
  private stderrTail = "";
  private sawOutOfMemory = false;

  constructor(limits: SandboxResourceLimits, typescriptModule: boolean) {
    super("process", limits);
    const runner = fileURLToPath(new URL(`./process-runner${OWN_EXT}`, import.meta.url));
    const execArgv = execArgvWithoutTsx();
    if (needsTsx(typescriptModule)) execArgv.push("--import", resolveTsx().loader);
    if (limits.maxOldGenerationSizeMb !== undefined)
      execArgv.push(`--max-old-space-size=${limits.maxOldGenerationSizeMb}`);
    this.child = fork(runner, [], {
      execArgv,
      stdio: ["ignore", "inherit", "pipe", "ipc"],
      serialization: "json",
    });
    // stderr goes through to ours; its tail tells an out-of-memory abort from other deaths
    this.child.stderr?.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      this.stderrTail = (this.stderrTail + chunk.toString("utf8")).slice(-STDERR_TAIL);
      if (OOM_PATTERN.test(this.stderrTail)) this.sawOutOfMemory = true;
    });
    this.child.on("message", (message) => this.received(message as FromRunner));
    this.child.on("error", (err) => {
      // spawn failures may not be followed by 'exit'; send failures (channel closed) are followed by it
      if (this.child.pid === undefined) this.died({ exitCode: null, signal: null, outOfMemory: false, error: err });
    });
    this.child.on("exit", (code, signal) => {
      const limited = limits.maxOldGenerationSizeMb !== undefined;
      const outOfMemory = this.sawOutOfMemory || (limited && signal === "SIGABRT");
      this.died({ exitCode: code, signal, outOfMemory, error: null });
    });
  }

  get pid(): number | null {
    return this.child.pid ?? null;
  }

  send(message: ToRunner): void {
    if (this.dead || !this.child.connected) return;
    this.child.send(message, undefined, undefined, () => undefined);
  }

  protected stop(): void {
    this.child.kill("SIGKILL");
  }

  ref(): void {
    this.child.ref();
    this.child.channel?.ref();
    (this.child.stderr as unknown as { ref?: () => void } | null)?.ref?.();
  }

  unref(): void {
    this.child.unref();
    this.child.channel?.unref();
    (this.child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  }
}
