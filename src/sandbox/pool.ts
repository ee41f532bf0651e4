/** SandboxPool: a lazily started pool of thread or process slots (acquire, release, replace, close), and its options. */
import { SandboxCrashError } from "../core/errors.js";
import { ProcessSlot } from "./process-slot.js";
import type { Isolation, SandboxResourceLimits, Slot } from "./slot.js";
import { ThreadSlot } from "./thread-slot.js";

// re-exported so that importers of pool.js keep working after the split
export { Slot, type Isolation, type SandboxResourceLimits, type SlotOwner } from "./slot.js";
export { needsTsx, resolveTsx } from "./tsx.js";

export interface SandboxPoolOptions {
  isolation: Isolation;
  size: number;
  resourceLimits: SandboxResourceLimits;
  /** The handler module is TypeScript: runners must load tsx even when optiq runs compiled. */
  typescriptModule: boolean;
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
