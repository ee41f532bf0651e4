import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { SandboxCrashError } from "../core/errors.js";
import type { FromRunner, ToRunner } from "./protocol.js";

export type Isolation = "thread" | "process";

export interface SandboxResourceLimits {
  /** Heap limit of each thread or process, in MB (threads: resourceLimits; processes: --max-old-space-size). */
  maxOldGenerationSizeMb?: number;
}

export interface SandboxPoolOptions {
  isolation: Isolation;
  size: number;
  resourceLimits: SandboxResourceLimits;
  /** The handler module is TypeScript: runners must load tsx even when optiq runs compiled. */
  typescriptModule: boolean;
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

/** This module's own extension: .ts when run from source (tsx, vitest), .js once compiled. */
const OWN_EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
const RUNNING_FROM_SOURCE = OWN_EXT === ".ts";

/** tsx's URLs, resolved once and only when needed (it is a dev dependency: absent from most installs). */
let tsxUrls: { api: string; loader: string } | null = null;
export function resolveTsx(): { api: string; loader: string } {
  if (tsxUrls) return tsxUrls;
  const require = createRequire(import.meta.url);
  const loader = require.resolve("tsx"); // "." has a single target: the --import loader
  // "./esm/api" resolves to CJS through require(); threads need its ESM build, named by the "import" condition
  const pkgPath = require.resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { exports?: Record<string, unknown> };
  const entry = pkg.exports?.["./esm/api"] as { import?: { default?: string } | string } | undefined;
  const esm = typeof entry?.import === "string" ? entry.import : (entry?.import?.default ?? "./dist/esm/api/index.mjs");
  tsxUrls = {
    api: new URL(esm, pathToFileURL(pkgPath)).href,
    loader: pathToFileURL(loader).href,
  };
  return tsxUrls;
}

export function needsTsx(typescriptModule: boolean): boolean {
  return RUNNING_FROM_SOURCE || typescriptModule;
}

/** The parent's exec args minus tsx's own hooks (we add them back exactly once where needed). */
function execArgvWithoutTsx(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const hookFlag = /^--(import|require|loader|experimental-loader)$/.test(arg) || arg === "-r";
    if (hookFlag && /tsx/.test(argv[i + 1] ?? "")) {
      i++;
      continue;
    }
    if (/^--(import|require|loader|experimental-loader)=.*tsx/.test(arg)) continue;
    out.push(arg);
  }
  return out;
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

class ThreadSlot extends Slot {
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

const STDERR_TAIL = 16 * 1024;
const OOM_PATTERN = /heap out of memory|Reached heap limit|Allocation failed/;

class ProcessSlot extends Slot {
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

interface Waiter {
  resolve(slot: Slot): void;
  reject(err: unknown): void;
}

/**
 * A pool of `size` threads or processes, each running one job at a time.
 * Started lazily: a slot is created when a job needs one and none is idle.
 * Idle slots are unref'd, so an idle pool never keeps the process alive.
 * close() stops them all; the pool can be used again afterwards.
 */
export class SandboxPool {
  private readonly slots = new Set<Slot>();
  private idle: Slot[] = [];
  private waiters: Waiter[] = [];
  private closing = false;

  constructor(readonly options: SandboxPoolOptions) {}

  /** Threads/processes alive now (idle or busy). */
  get live(): readonly Slot[] {
    return [...this.slots];
  }

  /** A slot for one job; waits for one to free up when all `size` are busy. Rejects with the signal's reason on abort. */
  acquire(signal: AbortSignal): Promise<Slot> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const slot = this.idle.pop() ?? (this.slots.size < this.options.size ? this.spawn() : null);
    if (slot) {
      slot.ref();
      return Promise.resolve(slot);
    }
    return new Promise<Slot>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        resolve: (s) => {
          signal.removeEventListener("abort", onAbort);
          resolve(s);
        },
        reject: (err) => {
          signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** A healthy slot is free again. */
  release(slot: Slot): void {
    slot.owner = null;
    if (slot.dead || !this.slots.has(slot)) {
      this.refill();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter.resolve(slot);
      return;
    }
    slot.unref();
    this.idle.push(slot);
  }

  /**
   * A slot died (crash or hard stop): a fresh thread/process takes its place,
   * handed to a waiting job or kept idle.
   */
  replace(slot: Slot): void {
    this.forget(slot);
    if (this.closing || this.slots.size >= this.options.size) return;
    const fresh = this.spawn();
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(fresh);
    else {
      fresh.unref();
      this.idle.push(fresh);
    }
  }

  /** Stops every thread/process (busy ones too) and waits until all have exited. */
  async close(): Promise<void> {
    this.closing = true;
    try {
      const waiters = this.waiters;
      this.waiters = [];
      const closed = new SandboxCrashError("the sandbox pool was closed before the job got a thread or process", {
        isolation: this.options.isolation,
        exitCode: null,
        signal: null,
        outOfMemory: false,
      });
      for (const w of waiters) w.reject(closed);
      const slots = [...this.slots];
      this.slots.clear();
      this.idle = [];
      await Promise.all(slots.map((s) => s.kill()));
    } finally {
      this.closing = false;
    }
  }

  private refill(): void {
    const waiter = this.waiters[0];
    if (!waiter || this.closing || this.slots.size >= this.options.size) return;
    this.waiters.shift();
    waiter.resolve(this.spawn());
  }

  private spawn(): Slot {
    const { isolation, resourceLimits, typescriptModule } = this.options;
    const slot =
      isolation === "thread"
        ? new ThreadSlot(resourceLimits, typescriptModule)
        : new ProcessSlot(resourceLimits, typescriptModule);
    this.slots.add(slot);
    slot.onDeath(() => {
      // an idle slot that died is simply dropped; a busy one is replaced by its owner
      if (this.idle.includes(slot)) this.forget(slot);
    });
    return slot;
  }

  private forget(slot: Slot): void {
    this.slots.delete(slot);
    this.idle = this.idle.filter((s) => s !== slot);
  }
}
