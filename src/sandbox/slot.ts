/** The abstract Slot (one thread or process running one job at a time) and the types its implementations share. */
import { SandboxCrashError } from "../core/errors.js";
import type { FromRunner, ToRunner } from "./protocol.js";

export type Isolation = "thread" | "process";

export interface SandboxResourceLimits {
  /** Heap limit of each thread or process, in MB (threads: resourceLimits; processes: --max-old-space-size). */
  maxOldGenerationSizeMb?: number;
}

/** Who currently owns a slot (a run in progress) and wants its messages and its death. */
export interface SlotOwner {
  onMessage(message: FromRunner): void;
  onDeath(crash: SandboxCrashError): void;
}

interface Death {
  exitCode: number | null;
  signal: string | null;
  outOfMemory: boolean;
  error: Error | null;
}

let nextSlotId = 1;

/**
 * One thread or process, running one job at a time. Messages go to the
 * current owner; its death (exit, signal, out of memory) too, once.
 */
export abstract class Slot {
  readonly id = nextSlotId++;
  owner: SlotOwner | null = null;
  dead = false;
  /** Set when we stop it on purpose (hard stop, pool closed). */
  killed = false;
  /** The runner said "ready". */
  isReady = false;
  /** Resolves on the runner's "ready"; rejects if it dies first. */
  readonly ready: Promise<void>;
  /** Resolves once the thread or process has exited. */
  readonly exited: Promise<void>;
  protected markReady!: () => void;
  private failReady!: (err: unknown) => void;
  private markExited!: () => void;
  private deathListeners: ((crash: SandboxCrashError) => void)[] = [];

  protected constructor(
    readonly isolation: Isolation,
    protected readonly limits: SandboxResourceLimits,
  ) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.markReady = resolve;
      this.failReady = reject;
    });
    this.ready.catch(() => undefined); // observed by owners; never an unhandled rejection
    this.exited = new Promise<void>((resolve) => (this.markExited = resolve));
  }

  /** The OS pid (process) or thread id (thread), for logs and tests. */
  abstract get pid(): number | null;
  abstract send(message: ToRunner): void;
  protected abstract stop(): void;
  abstract ref(): void;
  abstract unref(): void;

  onDeath(listener: (crash: SandboxCrashError) => void): void {
    this.deathListeners.push(listener);
  }

  /** Hard stop: terminate the thread / SIGKILL the process; resolves once it is gone. */
  kill(): Promise<void> {
    if (!this.dead) {
      this.killed = true;
      this.ref(); // keep the loop alive until the exit is seen
      this.stop();
    }
    return this.exited;
  }

  protected received(message: FromRunner): void {
    if (message.t === "ready") {
      this.isReady = true;
      this.markReady();
      return;
    }
    this.owner?.onMessage(message);
  }

  protected died(death: Death): void {
    if (this.dead) return;
    this.dead = true;
    const crash = this.crashError(death);
    this.failReady(crash);
    this.markExited();
    const owner = this.owner;
    this.owner = null;
    owner?.onDeath(crash);
    for (const listener of this.deathListeners) listener(crash);
  }

  private crashError(d: Death): SandboxCrashError {
    const what = this.isolation === "thread" ? "worker thread" : "child process";
    let how: string;
    if (this.killed) how = "was stopped (hard stop)";
    else if (d.outOfMemory) {
      const mb = this.limits.maxOldGenerationSizeMb;
      const end = d.signal ? `killed by ${d.signal}` : `exit code ${d.exitCode}`;
      how = `ran out of memory (heap limit ${mb === undefined ? "default" : `${mb} MB`}; ${end})`;
    } else if (d.signal) how = `was killed by signal ${d.signal}`;
    else if (d.error) how = `died of an uncaught ${d.error.name}: ${d.error.message} (exit code ${d.exitCode})`;
    else how = `exited with code ${d.exitCode}`;
    return new SandboxCrashError(
      `the sandbox ${what} ${how}`,
      {
        isolation: this.isolation,
        exitCode: d.signal ? null : d.exitCode,
        signal: d.signal,
        outOfMemory: d.outOfMemory,
      },
      d.error ? { cause: d.error } : undefined,
    );
  }
}
