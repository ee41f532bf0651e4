/**
 * The facade on every store: what a user sees through `Optiq` must not
 * depend on the store. Real clock, real stores; every wait is on a result or
 * an event, with generous bounds.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  JobCancelledError,
  Optiq,
  UnknownJobNameError,
  ValidationError,
  type OptiqOptions,
  type Store,
} from "../../../src/index.js";

export interface StoreHandle {
  store: Store;
  /** Another Store instance on the same data, as a second process would open it (shared stores only). */
  reopen?: () => Store;
  cleanup: () => Promise<void>;
}

const fast = { backoff: { type: "fixed", delayMs: 10, jitter: false } } as const;

export interface StoreTraits {
  /** Several Optiq instances (processes) can share it: producer/worker and cross-instance cases run. */
  shared: boolean;
  durable: boolean;
}

export function describeFacadeConformance(
  label: string,
  factory: () => Promise<StoreHandle>,
  traits: StoreTraits,
): void {
  // cases that need a second instance on the same data exist only for shared stores
  const itShared = traits.shared ? it : () => undefined;
  const itDurable = traits.shared && traits.durable ? it : () => undefined;
  describe(`Optiq on ${label}`, () => {
    let handle: StoreHandle;
    const queues: Optiq[] = [];
    const make = (options: OptiqOptions = {}) => {
      const q = new Optiq({ store: handle.store, leaseMs: 5000, pollIntervalMs: 200, defaults: fast, ...options });
      queues.push(q);
      return q;
    };

    beforeEach(async () => {
      handle = await factory();
    });
    afterEach(async () => {
      for (const q of queues.splice(0)) await q.stop({ graceful: false, timeoutMs: 2000 });
      await handle.cleanup();
    });

    it("runs 200 jobs to completion with exact counts", async () => {
      const q = make({ concurrency: 10 });
      q.define("double", async (job) => (job.input as number) * 2);
      await q.start();
      const subs = await q.submitMany(Array.from({ length: 200 }, (_, i) => ({ name: "double", input: i })));
      const results = await Promise.all(subs.map((s) => q.result(s.id, { timeoutMs: 30_000 })));
      expect(results).toEqual(Array.from({ length: 200 }, (_, i) => i * 2));
      expect(await q.store.counts()).toMatchObject({ queued: 0, running: 0, completed: 200 });
      expect((await q.stats()).totals).toMatchObject({ submitted: 200, started: 200, completed: 200 });
    });

    it("retries a failing attempt, then completes, keeping the attempt's error", async () => {
      const q = make();
      q.define("flaky", async (job) => {
        if (job.attempt === 1) throw new Error("first attempt fails");
        return `ok on ${job.attempt}`;
      });
      await q.start();
      const { id } = await q.submit("flaky");
      expect(await q.result(id, { timeoutMs: 10_000 })).toBe("ok on 2");
      const job = await q.get(id);
      expect(job).toMatchObject({ state: "completed", attempt: 2 });
      expect(job?.errors.map((e) => e.error.message)).toEqual(["first attempt fails"]);
    });

    it("cancels a queued job (never runs) and a running one (signal aborts, ends cancelled)", async () => {
      const q = make({ concurrency: 1 });
      const ran: string[] = [];
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      q.define("long", (job, ctx) => {
        ran.push(job.id);
        started();
        return new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
      });
      await q.start();
      const first = await q.submit("long");
      const second = await q.submit("long");
      await running;
      expect(await q.cancel(second.id, { reason: "not needed" })).toBe(true);
      await expect(q.result(second.id)).rejects.toBeInstanceOf(JobCancelledError);
      expect(await q.cancel(first.id, { reason: "stop it" })).toBe(true);
      await expect(q.result(first.id, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(JobCancelledError);
      expect(ran).toEqual([first.id]);
      expect((await q.get(first.id))?.state).toBe("cancelled");
      expect((await q.get(second.id))?.state).toBe("cancelled");
    });

    it("deduplicates by idempotency key", async () => {
      const q = make();
      q.define("once", async () => "done");
      const results = await Promise.all(Array.from({ length: 10 }, () => q.submit("once", null, { key: "k-1" })));
      expect(new Set(results.map((r) => r.id)).size).toBe(1);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      await q.start();
      expect(await q.result(results[0]!.id, { timeoutMs: 10_000 })).toBe("done");
      expect((await q.store.counts()).completed).toBe(1);
    });

    it("runs a delayed job no sooner than its delay", async () => {
      const q = make();
      let ranAt = 0;
      q.define("later", async () => {
        ranAt = Date.now();
      });
      await q.start();
      const submittedAt = Date.now();
      const { id } = await q.submit("later", null, { delayMs: 150 });
      await q.result(id, { timeoutMs: 10_000 });
      expect(ranAt - submittedAt).toBeGreaterThanOrEqual(150);
    });

    it("never runs more of a group at once than its limit", async () => {
      const q = make({ concurrency: 8, groups: { api: { concurrency: 2 } } });
      let now = 0;
      let peak = 0;
      q.define("call", async () => {
        peak = Math.max(peak, ++now);
        await new Promise((r) => setTimeout(r, 5));
        now--;
      });
      await q.start();
      const subs = await q.submitMany(Array.from({ length: 20 }, () => ({ name: "call", options: { group: "api" } })));
      await Promise.all(subs.map((s) => q.result(s.id, { timeoutMs: 30_000 })));
      expect(peak).toBe(2);
    });

    it("rejects bad input with typed errors and stores nothing", async () => {
      const q = make();
      q.define("x", async () => null);
      await expect(q.submit("nope")).rejects.toBeInstanceOf(UnknownJobNameError);
      await expect(q.submit("x", { f: () => 1 })).rejects.toMatchObject({ code: "OPTIQ_VALIDATION", field: "input.f" });
      await expect(q.submit("x", null, { priority: Number.NaN })).rejects.toBeInstanceOf(ValidationError);
      expect(await q.store.counts()).toEqual({ queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 });
    });

    it("keeps progress and checkpoints visible in snapshots", async () => {
      const q = make();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      q.define("report", async (_job, ctx) => {
        ctx.progress({ trial: 3 });
        ctx.checkpoint({ best: 0.5 });
        await gate;
        return "ok";
      });
      await q.start();
      const progressed = new Promise((r) => q.on("progress", r));
      const { id } = await q.submit("report");
      await progressed;
      await expect.poll(async () => (await q.get(id))?.checkpoint, { timeout: 10_000 }).toEqual({ best: 0.5 });
      expect((await q.get(id))?.progress).toEqual({ trial: 3 });
      release();
      expect(await q.result(id, { timeoutMs: 10_000 })).toBe("ok");
    });

    itShared("a producer that never starts gets results from a worker on another instance", async () => {
      if (!handle.reopen) throw new Error("a shared store's handle must offer reopen()");
      const worker = make();
      worker.define("work", async (job) => `worked on ${job.input as string}`);
      await worker.start();
      const producer = new Optiq({ store: handle.reopen(), pollIntervalMs: 200 });
      queues.push(producer);
      producer.declare("work");
      const { id } = await producer.submit("work", "a shared store");
      expect(await producer.result(id, { timeoutMs: 10_000 })).toBe("worked on a shared store");
    });

    itShared(
      "a cancel from another instance aborts the handler running in the worker within about a second",
      async () => {
        if (!handle.reopen) throw new Error("a shared store's handle must offer reopen()");
        const worker = make();
        let aborted = 0;
        let started!: () => void;
        const running = new Promise<void>((r) => (started = r));
        worker.define("long", (_job, c) => {
          started();
          return new Promise((_res, reject) =>
            c.signal.addEventListener("abort", () => {
              aborted = Date.now();
              reject(c.signal.reason);
            }),
          );
        });
        await worker.start();
        const producer = new Optiq({ store: handle.reopen(), pollIntervalMs: 200 });
        queues.push(producer);
        producer.declare("long");
        const { id } = await producer.submit("long");
        await running;
        const cancelledAt = Date.now();
        expect(await producer.cancel(id, { reason: "from afar" })).toBe(true);
        await expect(producer.result(id, { timeoutMs: 10_000 })).rejects.toBeInstanceOf(JobCancelledError);
        expect(aborted - cancelledAt).toBeLessThan(2000);
      },
    );

    itDurable("a stopped worker's queued jobs run when a new worker starts on the same store", async () => {
      if (!handle.reopen) throw new Error("a shared store's handle must offer reopen()");
      const first = make();
      first.declare("later");
      const subs = await first.submitMany(Array.from({ length: 50 }, (_, i) => ({ name: "later", input: i })));
      await first.stop();
      const second = new Optiq({ store: handle.reopen(), pollIntervalMs: 200 });
      queues.push(second);
      second.define("later", async (job) => job.input);
      await second.start();
      const results = await Promise.all(subs.map((s) => second.result(s.id, { timeoutMs: 30_000 })));
      expect(results).toEqual(Array.from({ length: 50 }, (_, i) => i));
    });
  });
}
