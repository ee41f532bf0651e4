/**
 * The bug report's concurrent scenarios (test_concurrent_optimizations.py):
 * every job completes, counts are exact, nothing hangs. Jobs do real (small)
 * async work; no test sleeps to synchronise — each awaits results or events.
 */
import { describe, expect, it } from "vitest";
import { Optiq } from "../../src/index.js";

async function runConcurrent(jobs: number, concurrency: number) {
  const q = new Optiq({ concurrency });
  let inFlight = 0;
  let maxInFlight = 0;
  q.define("optimize", async (job) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const { seed } = job.input as { seed: number };
    // a tiny random search, yielding to the loop like a real job awaiting an API would
    let best = Infinity;
    let x = seed;
    for (let i = 0; i < 50; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      best = Math.min(best, ((x / 2 ** 31) * 10 - 3) ** 2);
      if (i % 10 === 0) await new Promise<void>((r) => setImmediate(r));
    }
    inFlight--;
    return { seed, best };
  });
  await q.start();
  const submitted = await q.submitMany(
    Array.from({ length: jobs }, (_, i) => ({ name: "optimize", input: { seed: i } })),
  );
  const results = await Promise.all(submitted.map((s) => q.result<{ seed: number; best: number }>(s.id)));
  const stats = await q.stats();
  await q.stop();
  return { submitted, results, stats, maxInFlight };
}

describe("concurrent optimizations", () => {
  it.each([
    [100, 10],
    [500, 50],
    [1000, 100],
  ])("%i jobs at concurrency %i all complete, exactly once each", async (jobs, concurrency) => {
    const { submitted, results, stats, maxInFlight } = await runConcurrent(jobs, concurrency);
    expect(new Set(submitted.map((s) => s.id)).size).toBe(jobs);
    expect(results.map((r) => r.seed)).toEqual(Array.from({ length: jobs }, (_, i) => i));
    expect(stats.counts).toEqual({ queued: 0, running: 0, completed: jobs, failed: 0, cancelled: 0 });
    expect(stats.totals).toMatchObject({ submitted: jobs, started: jobs, completed: jobs, failed: 0, retried: 0 });
    expect(stats.running).toBe(0);
    expect(maxInFlight).toBeLessThanOrEqual(concurrency);
    expect(maxInFlight).toBe(concurrency); // the slots were really used
  });

  it("10% failing jobs fail alone; the other 90% complete", async () => {
    const q = new Optiq({ concurrency: 20, defaults: { maxAttempts: 1 } });
    q.define("maybe", async (job) => {
      const i = job.input as number;
      await new Promise<void>((r) => setImmediate(r));
      if (i % 10 === 0) throw new Error(`job ${i} diverged`);
      return i * 2;
    });
    await q.start();
    const subs = await q.submitMany(Array.from({ length: 100 }, (_, i) => ({ name: "maybe", input: i })));
    const settled = await Promise.allSettled(subs.map((s) => q.result(s.id)));
    const failed = settled.filter((s) => s.status === "rejected");
    const ok = settled.filter((s): s is PromiseFulfilledResult<unknown> => s.status === "fulfilled");
    expect(failed).toHaveLength(10);
    for (const f of failed)
      expect((f as PromiseRejectedResult).reason).toMatchObject({ code: "OPTIQ_JOB_FAILED", attempts: 1 });
    expect(ok.map((o) => o.value)).toEqual(
      Array.from({ length: 100 }, (_, i) => i)
        .filter((i) => i % 10 !== 0)
        .map((i) => i * 2),
    );
    const stats = await q.stats();
    expect(stats.counts).toMatchObject({ completed: 90, failed: 10, queued: 0, running: 0 });
    expect(stats.totals).toMatchObject({ completed: 90, failed: 10 });
    await q.stop();
  });

  it("cancelled queued jobs are skipped without corrupting the bookkeeping (the task_done() bug)", async () => {
    const q = new Optiq({ concurrency: 5 });
    const ran: number[] = [];
    q.define("work", async (job) => {
      ran.push(job.input as number);
      await new Promise<void>((r) => setImmediate(r));
      return job.input;
    });
    const subs = await q.submitMany(Array.from({ length: 100 }, (_, i) => ({ name: "work", input: i })));
    // cancel every odd job before the queue starts, then twice more for good measure
    for (let i = 1; i < 100; i += 2) expect(await q.cancel(subs[i]!.id)).toBe(true);
    for (let i = 1; i < 100; i += 2) expect(await q.cancel(subs[i]!.id)).toBe(false);
    await q.start();
    const settled = await Promise.allSettled(subs.map((s) => q.result(s.id)));
    expect(settled.filter((s) => s.status === "fulfilled")).toHaveLength(50);
    for (let i = 1; i < 100; i += 2)
      expect((settled[i] as PromiseRejectedResult).reason).toMatchObject({ code: "OPTIQ_JOB_CANCELLED" });
    expect(ran.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
    const stats = await q.stats();
    expect(stats.counts).toEqual({ queued: 0, running: 0, completed: 50, failed: 0, cancelled: 50 });
    expect(stats.totals).toMatchObject({ started: 50, completed: 50, cancelled: 50, failed: 0 });
    expect(stats.running).toBe(0);
    await q.stop();
  });
});
