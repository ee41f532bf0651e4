import { afterEach, beforeEach, expect } from "vitest";
import type { SerializedError } from "../../src/core/job.js";
import type {
  ClaimResult,
  ClaimedJob,
  EnqueueJob,
  Job,
  Outcome,
  SettleResult,
  Store,
  StoreConfig,
  StoreListener,
} from "../../src/store/port.js";
import { makeJob } from "../support/job-factory.js";

export type StoreFactory = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

/** Base time of every test: a fixed past instant, so a store reading the real clock shows up. */
export const T0 = 1_700_000_000_000;
export const LEASE_MS = 30_000;
/** How long a test waits for a listener call before it fails (shared stores deliver asynchronously). */
export const DELIVERY_TIMEOUT_MS = 5_000;

export const NO_LIMITS: StoreConfig = {
  groups: new Map(),
  retention: { maxAgeMs: 365 * 24 * 3600_000, maxCount: 1_000_000 },
};

export interface Harness {
  /** The store under test, already initialised (init() ran in beforeEach). */
  readonly store: Store;
  /** Configures the store (no group limits and a generous retention unless overridden) and returns it. */
  open(config?: Partial<StoreConfig>): Promise<Store>;
}

/** Registers beforeEach/afterEach hooks giving every test a fresh, initialised store. */
export function useStore(factory: StoreFactory): Harness {
  let current: { store: Store; cleanup: () => Promise<void> } | undefined;
  beforeEach(async () => {
    current = await factory();
    await current.store.init();
  });
  afterEach(async () => {
    const c = current;
    current = undefined;
    if (!c) return;
    try {
      await c.store.close();
    } finally {
      await c.cleanup();
    }
  });
  const harness: Harness = {
    get store(): Store {
      if (!current) throw new Error("the store is only available inside a test");
      return current.store;
    },
    async open(config: Partial<StoreConfig> = {}): Promise<Store> {
      const store = harness.store;
      await store.configure({ ...NO_LIMITS, ...config });
      return store;
    },
  };
  return harness;
}

/** Enqueues one job (makeJob defaults) at `now` and returns its id, asserting it was created. */
export async function add(store: Store, now: number, overrides: Partial<EnqueueJob> = {}): Promise<string> {
  const [result, ...rest] = await store.enqueue({ jobs: [makeJob(now, overrides)], now, maxQueued: null });
  expect(rest).toEqual([]);
  expect(result?.created).toBe(true);
  return result!.id;
}

/** Enqueues one job per overrides entry, each in its own call (so submission order is unambiguous). */
export async function addEach(store: Store, now: number, list: readonly Partial<EnqueueJob>[]): Promise<string[]> {
  const ids: string[] = [];
  for (const overrides of list) ids.push(await add(store, now, overrides));
  return ids;
}

export interface ClaimOptions {
  now: number;
  workerId?: string;
  limit?: number;
  /** Job names with their budgets; default { t: 100 }. */
  names?: Record<string, number>;
  leaseMs?: number;
}

export function claim(store: Store, o: ClaimOptions): Promise<ClaimResult> {
  return store.claim({
    workerId: o.workerId ?? "w1",
    limit: o.limit ?? 100,
    names: new Map(Object.entries(o.names ?? { t: 100 })),
    leaseMs: o.leaseMs ?? LEASE_MS,
    now: o.now,
  });
}

/** Claims with limit 1 and asserts exactly one job came back. */
export async function claimOne(store: Store, o: ClaimOptions): Promise<ClaimedJob> {
  const { jobs } = await claim(store, { ...o, limit: 1 });
  expect(jobs).toHaveLength(1);
  return jobs[0]!;
}

/** Claims one at a time until nothing comes back; returns the ids in claim order. */
export async function drainIds(store: Store, o: ClaimOptions): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const { jobs } = await claim(store, { ...o, limit: 1 });
    if (jobs.length === 0) return ids;
    expect(jobs).toHaveLength(1);
    ids.push(jobs[0]!.id);
  }
  throw new Error("drainIds: claim never ran dry");
}

export async function settleOne(
  store: Store,
  job: { id: string; attempt: number },
  outcome: Outcome,
  now: number,
  workerId = "w1",
): Promise<SettleResult> {
  const results = await store.settle({ workerId, settlements: [{ id: job.id, attempt: job.attempt, outcome }], now });
  expect(results).toHaveLength(1);
  expect(results[0]!.id).toBe(job.id);
  return results[0]!;
}

export const completed = (value: unknown = null): Outcome => ({ kind: "completed", resultJson: JSON.stringify(value) });
export const failed = (error: SerializedError = testError()): Outcome => ({ kind: "failed", error });
export const retry = (runAt: number, error: SerializedError = testError()): Outcome => ({
  kind: "retry",
  error,
  runAt,
});
export const cancelled = (reason = "stopped by test"): Outcome => ({ kind: "cancelled", reason });

export function testError(message = "boom", code = "E_TEST"): SerializedError {
  return { name: "Error", message, code };
}

/** get() that asserts the job exists. */
export async function must(store: Store, id: string): Promise<Job> {
  const job = await store.get(id);
  expect(job, `job ${id} should exist`).not.toBeNull();
  return job!;
}

export async function stateOf(store: Store, id: string): Promise<string | null> {
  return (await store.get(id))?.state ?? null;
}

/** Refused-or-rejected probe: resolves to the rejection reason, or fails the test if it resolved. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected the call to reject, but it resolved");
    },
    (error: unknown) => error,
  );
}

/**
 * A listener that records every delivery and lets a test wait for a
 * condition on what it has seen, failing after DELIVERY_TIMEOUT_MS. Methods
 * are own arrow properties so a store may call them detached.
 */
export class Recorder implements StoreListener {
  available = 0;
  readonly finished: string[] = [];
  readonly cancelRequested: string[] = [];
  private waiters: (() => boolean)[] = [];

  readonly onAvailable = (): void => {
    this.available++;
    this.check();
  };
  readonly onFinished = (ids: readonly string[]): void => {
    this.finished.push(...ids);
    this.check();
  };
  readonly onCancelRequested = (ids: readonly string[]): void => {
    this.cancelRequested.push(...ids);
    this.check();
  };

  until(condition: () => boolean, what: string, timeoutMs = DELIVERY_TIMEOUT_MS): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = (): boolean => {
        if (!condition()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no delivery within ${timeoutMs} ms: waited for ${what}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  untilAvailable(count = 1): Promise<void> {
    return this.until(() => this.available >= count, `${count} onAvailable call(s)`);
  }

  untilFinished(...ids: string[]): Promise<void> {
    return this.until(() => ids.every((id) => this.finished.includes(id)), `onFinished of ${ids.join(", ")}`);
  }

  untilCancelRequested(...ids: string[]): Promise<void> {
    return this.until(
      () => ids.every((id) => this.cancelRequested.includes(id)),
      `onCancelRequested of ${ids.join(", ")}`,
    );
  }

  private check(): void {
    this.waiters = this.waiters.filter((w) => !w());
  }
}
