import { afterEach, describe, expect, it } from "vitest";
import { JobNotFoundError, Optiq, type OptiqOptions } from "../../src/index.js";
import { FakeClock } from "../../src/core/fake-clock.js";
import { once, rejectionOf, times } from "../support/helpers.js";

const queues: Optiq[] = [];

function makeQueue(options: OptiqOptions = {}): { q: Optiq; clock: FakeClock } {
  const clock = new FakeClock();
  const q = new Optiq({ clock, concurrency: 50, ...options });
  q.define("work", (job) => ({ n: job.input }));
  q.declare("elsewhere"); // submitted here, run by no worker: stays queued
  queues.push(q);
  return { q, clock };
}

afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop({ timeoutMs: 1000 })));
});

describe("retention by count", () => {
  it("keeps at most maxCount finished jobs: the oldest are removed, the newest kept", async () => {
    const { q } = makeQueue({ retention: { maxCount: 100 } });
    await q.start();
    const allDone = times(q, "completed", 1000);
    const submitted = await q.submitMany(Array.from({ length: 1000 }, (_, i) => ({ name: "work", input: i })));
    await allDone;

    const stats = await q.stats();
    expect(stats.counts.completed).toBeLessThanOrEqual(100);
    expect(stats.counts.completed).toBeGreaterThan(0);
    expect(stats.totals.completed).toBe(1000);

    const first = submitted[0]!.id;
    const last = submitted[999]!.id;
    expect(await q.get(first)).toBeNull();
    const err = await rejectionOf(q.result(first));
    expect(err).toBeInstanceOf(JobNotFoundError);
    expect((err as JobNotFoundError).jobId).toBe(first);
    expect(await q.get(last)).toMatchObject({ id: last, state: "completed", result: { n: 999 } });
    expect(await q.result(last)).toEqual({ n: 999 });
    expect((await q.list({ limit: 1000 })).length).toBe(stats.counts.completed);
  });

  it("never removes queued jobs, however many finish", async () => {
    const { q } = makeQueue({ retention: { maxCount: 5 } });
    const waiting = await q.submit("elsewhere", "keep me");
    await q.start();
    const allDone = times(q, "completed", 50);
    await q.submitMany(Array.from({ length: 50 }, (_, i) => ({ name: "work", input: i })));
    await allDone;
    const stats = await q.stats();
    expect(stats.counts.completed).toBeLessThanOrEqual(5);
    expect(stats.counts.queued).toBe(1);
    expect(await q.get(waiting.id)).toMatchObject({ state: "queued", input: "keep me" });
  });

  it("counts failed and cancelled jobs as finished too", async () => {
    const { q } = makeQueue({ retention: { maxCount: 2 } });
    q.define(
      "boom",
      () => {
        throw new Error("boom");
      },
      { maxAttempts: 1 },
    );
    await q.start();
    const failed = once(q, "failed");
    const f = await q.submit("boom");
    await failed;
    const c = await q.submit("work", 0, { delayMs: 60_000 });
    await q.cancel(c.id);
    expect(await q.get(f.id)).not.toBeNull();
    const done = times(q, "completed", 2);
    await q.submitMany([
      { name: "work", input: 1 },
      { name: "work", input: 2 },
    ]);
    await done;
    // four finished, two kept: the failed and the cancelled ones were the oldest
    expect(await q.get(f.id)).toBeNull();
    expect(await q.get(c.id)).toBeNull();
    const counts = (await q.stats()).counts;
    expect(counts.completed + counts.failed + counts.cancelled).toBe(2);
    expect(counts.completed).toBe(2);
  });
});

describe("retention by age", () => {
  it("finished jobs disappear once older than maxAgeMs and prune runs; queued jobs stay", async () => {
    const { q, clock } = makeQueue({ retention: { maxAgeMs: 1000 } });
    await q.start();
    const waiting = await q.submit("elsewhere", "waits");
    const delayed = await q.submit("work", "later", { delayMs: 10 * 60_000 });
    const done = times(q, "completed", 3);
    const finished = await q.submitMany([1, 2, 3].map((input) => ({ name: "work", input })));
    await done;

    await clock.advance(1000);
    expect(await q.store.prune(clock.now())).toBe(0); // exactly maxAgeMs old: still kept
    for (const { id } of finished) expect(await q.get(id)).not.toBeNull();

    await clock.advance(1);
    expect(await q.store.prune(clock.now())).toBe(3);
    for (const { id } of finished) {
      expect(await q.get(id)).toBeNull();
      await expect(q.result(id)).rejects.toBeInstanceOf(JobNotFoundError);
    }
    const stats = await q.stats();
    expect(stats.counts).toMatchObject({ queued: 2, completed: 0 });
    expect(await q.get(waiting.id)).toMatchObject({ state: "queued" });
    expect(await q.get(delayed.id)).toMatchObject({ state: "queued" });
  });

  it("the cleaner prunes by itself every 60 s of clock time", async () => {
    const { q, clock } = makeQueue({ retention: { maxAgeMs: 1000 } });
    await q.start();
    const waiting = await q.submit("elsewhere");
    const done = once(q, "completed");
    const { id } = await q.submit("work", 1);
    await done;

    await clock.advance(59_000);
    expect(await q.get(id)).not.toBeNull(); // old enough, but the cleaner has not run yet
    await clock.advance(1_000);
    expect(await q.get(id)).toBeNull();
    expect(await q.get(waiting.id)).toMatchObject({ state: "queued" });

    // queued jobs survive any number of cleaner runs
    await clock.advance(10 * 60_000);
    expect(await q.get(waiting.id)).toMatchObject({ state: "queued" });
    expect((await q.stats()).counts.queued).toBe(1);
  });

  it("a job that finishes later is kept for its own maxAgeMs", async () => {
    const { q, clock } = makeQueue({ retention: { maxAgeMs: 1000 } });
    await q.start();
    const firstDone = once(q, "completed");
    const a = await q.submit("work", "a");
    await firstDone;
    await clock.advance(800);
    const secondDone = once(q, "completed");
    const b = await q.submit("work", "b");
    await secondDone;
    await clock.advance(201);
    await q.store.prune(clock.now());
    expect(await q.get(a.id)).toBeNull();
    expect(await q.get(b.id)).not.toBeNull();
    await clock.advance(800);
    await q.store.prune(clock.now());
    expect(await q.get(b.id)).toBeNull();
  });
});
