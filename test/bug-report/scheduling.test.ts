/**
 * Priority, throughput scaling, utilization, rate limiting and backpressure
 * from the bug report, on an injected clock: each job "takes" clock time, so
 * results are exact and nothing depends on the machine's speed.
 */
import { describe, expect, it } from "vitest";
import { Optiq, QueueFullError, type Job } from "../../src/index.js";
import { FakeClock } from "../../src/testing.js";

/** A handler that finishes after `ms` of fake time, or rejects when aborted. */
function timed(clock: FakeClock, ms: number) {
  return (_job: unknown, ctx: { signal: AbortSignal }) =>
    new Promise<string>((resolve, reject) => {
      const t = clock.setTimeout(() => resolve("done"), ms);
      ctx.signal.addEventListener("abort", () => {
        clock.clearTimeout(t);
        reject(ctx.signal.reason);
      });
    });
}

describe("scheduling", () => {
  it("runs higher priorities first, FIFO within a priority, with one slot", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ concurrency: 1, clock });
    const order: string[] = [];
    q.define("opt", async (job) => {
      order.push(job.input as string);
      return null;
    });
    for (const [input, priority] of [
      ["low-1", 0],
      ["high-1", 10],
      ["mid-1", 5],
      ["low-2", 0],
      ["high-2", 10],
      ["mid-2", 5],
    ] as const) {
      await q.submit("opt", input, { priority });
    }
    await q.start();
    await clock.advance(10);
    expect(order).toEqual(["high-1", "high-2", "mid-1", "mid-2", "low-1", "low-2"]);
    await q.stop();
  });

  it("throughput rises with concurrency: 40 jobs of 100 ms take 4000/c ms of clock time", async () => {
    for (const concurrency of [1, 2, 4, 8]) {
      const clock = new FakeClock();
      const q = new Optiq({ concurrency, clock });
      q.define("job", timed(clock, 100));
      await q.start();
      const subs = await q.submitMany(Array.from({ length: 40 }, () => ({ name: "job" })));
      const expectedMs = (40 / concurrency) * 100;
      await clock.advance(expectedMs - 1);
      expect((await q.stats()).counts.completed).toBe(40 - concurrency); // the last wave is 1 ms short
      await clock.advance(1);
      expect((await q.stats()).counts.completed).toBe(40);
      await Promise.all(subs.map((s) => q.result(s.id)));
      await q.stop();
    }
  });

  it("utilization never exceeds global, per-name and per-group limits", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ concurrency: 6, clock, groups: { openai: { concurrency: 2 } } });
    const running = { total: 0, a: 0, openai: 0 };
    const peak = { total: 0, a: 0, openai: 0, utilization: 0 };
    const handler = (name: "a" | "b") => async (job: { group: string | null }) => {
      running.total++;
      if (name === "a") running.a++;
      if (job.group === "openai") running.openai++;
      peak.total = Math.max(peak.total, running.total);
      peak.a = Math.max(peak.a, running.a);
      peak.openai = Math.max(peak.openai, running.openai);
      await new Promise<void>((r) => clock.setTimeout(r, 50));
      running.total--;
      if (name === "a") running.a--;
      if (job.group === "openai") running.openai--;
    };
    q.define("a", handler("a"), { concurrency: 3 });
    q.define("b", handler("b"));
    q.on("started", () => {
      void q.stats().then((s) => (peak.utilization = Math.max(peak.utilization, s.utilization)));
    });
    await q.start();
    const items = Array.from({ length: 60 }, (_, i) => ({
      name: i % 2 === 0 ? "a" : "b",
      options: i % 3 === 0 ? { group: "openai" } : {},
    }));
    const subs = await q.submitMany(items);
    await clock.advance(5000);
    await Promise.all(subs.map((s) => q.result(s.id)));
    expect(peak).toEqual({ total: 6, a: 3, openai: 2, utilization: 1 });
    await q.stop();
  });

  it("a rate limit of 10/s never allows more than 10 starts in any 1 s window", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ concurrency: 50, clock, rateLimit: { limit: 10, intervalMs: 1000 } });
    const starts: number[] = [];
    q.define("call", async () => {
      starts.push(clock.now());
      return null;
    });
    await q.start();
    const subs = await q.submitMany(Array.from({ length: 50 }, () => ({ name: "call" })));
    for (let i = 0; i < 60; i++) await clock.advance(100);
    await Promise.all(subs.map((s) => q.result(s.id)));
    expect(starts).toHaveLength(50);
    for (let i = 10; i < starts.length; i++) expect(starts[i]! - starts[i - 10]!).toBeGreaterThanOrEqual(1000);
    // and it does not dawdle: 50 starts at 10/s need just over 4 s
    expect(starts[49]! - starts[0]!).toBeLessThanOrEqual(4100);
    await q.stop();
  });

  it("a group rate limit holds per group while other jobs run freely", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ concurrency: 50, clock, groups: { api: { rateLimit: { limit: 3, intervalMs: 1000 } } } });
    const starts: { group: string | null; at: number }[] = [];
    q.define("call", async (job) => {
      starts.push({ group: job.group, at: clock.now() });
      return null;
    });
    await q.start();
    await q.submitMany([
      ...Array.from({ length: 9 }, () => ({ name: "call", options: { group: "api" } })),
      ...Array.from({ length: 9 }, () => ({ name: "call" })),
    ]);
    await clock.advance(10);
    expect(starts.filter((s) => s.group === null)).toHaveLength(9);
    expect(starts.filter((s) => s.group === "api")).toHaveLength(3);
    for (let i = 0; i < 25; i++) await clock.advance(100);
    const api = starts.filter((s) => s.group === "api").map((s) => s.at);
    expect(api).toHaveLength(9);
    for (let i = 3; i < api.length; i++) expect(api[i]! - api[i - 3]!).toBeGreaterThanOrEqual(1000);
    await q.stop();
  });

  it("backpressure: a full queue rejects with QueueFullError, or waits for room when asked", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ concurrency: 1, clock, maxQueued: 3 });
    q.define("job", timed(clock, 100));
    for (let i = 0; i < 3; i++) await q.submit("job", i);
    const full = await q.submit("job", 3).catch((e: unknown) => e);
    expect(full).toBeInstanceOf(QueueFullError);
    expect(full).toMatchObject({ code: "OPTIQ_QUEUE_FULL", queued: 3, limit: 3 });
    expect((await q.stats()).counts.queued).toBe(3); // nothing dropped, nothing added

    let waited = false;
    const waiting = q.submit("job", 4, { ifFull: "wait" }).then((r) => ((waited = true), r));
    const timingOut = q.submit("job", 5, { ifFull: "wait", waitTimeoutMs: 50 }).catch((e: unknown) => e);
    await clock.advance(10);
    expect(waited).toBe(false);
    await clock.advance(50);
    expect(await timingOut).toBeInstanceOf(QueueFullError);
    await q.start(); // a job starts → room for one
    await clock.advance(1);
    expect(waited).toBe(true);
    const job = (await q.get((await waiting).id)) as Job;
    expect(job.input).toBe(4);
    await clock.advance(1000);
    expect((await q.stats()).counts).toMatchObject({ completed: 4, queued: 0 });
    await q.stop();
  });

  it("a submitter waiting for room can give up through its AbortSignal; stop() answers the others", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ concurrency: 1, clock, maxQueued: 1 });
    q.define("job", timed(clock, 100));
    await q.submit("job", 0);
    const controller = new AbortController();
    const aborted = q.submit("job", 1, { ifFull: "wait", signal: controller.signal }).catch((e: unknown) => e);
    const stopped = q.submit("job", 2, { ifFull: "wait" }).catch((e: unknown) => e);
    controller.abort();
    expect(await aborted).toMatchObject({ code: "OPTIQ_ABORTED" });
    await q.stop(); // never started: stop() closes the store and must answer the waiter
    expect(await stopped).toMatchObject({ code: "OPTIQ_NOT_RUNNING" });
    expect((await q.store.counts()).queued).toBe(1); // neither waiter got in
  });
});
