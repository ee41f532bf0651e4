/**
 * Prefetch: jobs claimed ahead of free slots start without a store round
 * trip, stay leased (heartbeats cover them), can be cancelled before they
 * start, and go back to the queue unstarted when the worker stops.
 */
import { describe, expect, it } from "vitest";
import { JobCancelledError, Optiq } from "../../src/index.js";
import { FakeClock, flushPromises } from "../../src/testing.js";
import { PREFETCH_HOLD_MS } from "../../src/worker/prefetch-hold.js";

function blockingQueue(clock: FakeClock, options: { prefetch: number; leaseMs?: number }) {
  const q = new Optiq({ clock, concurrency: 1, ...options });
  const started: unknown[] = [];
  const release: (() => void)[] = [];
  q.define("block", (job) => {
    started.push(job.input);
    return new Promise<string>((r) => release.push(() => r(`done ${String(job.input)}`)));
  });
  return { q, started, release };
}

/** A handler's body: resolves after `ms` on the fake clock, or rejects when its signal aborts. */
function sleepOn(clock: FakeClock, ms: number, signal: AbortSignal): Promise<null> {
  return new Promise((resolve, reject) => {
    const t = clock.setTimeout(() => resolve(null), ms);
    signal.addEventListener("abort", () => {
      clock.clearTimeout(t);
      reject(signal.reason);
    });
  });
}

describe("prefetch", () => {
  it("holds claimed jobs leased, starts them as slots free, in priority order", async () => {
    const clock = new FakeClock();
    const { q, started, release } = blockingQueue(clock, { prefetch: 3 });
    const subs = await q.submitMany(
      [0, 1, 2, 3, 4].map((i) => ({ name: "block", input: i, options: { priority: i === 4 ? 9 : 0 } })),
    );
    await q.start();
    await clock.advance(1);
    expect(started).toEqual([4]);
    // one running + three prefetched are leased; one waits in the store
    expect(await q.store.counts()).toMatchObject({ running: 4, queued: 1 });
    for (let i = 0; i < 5; i++) {
      release.shift()!();
      await clock.advance(1);
    }
    expect(started).toEqual([4, 0, 1, 2, 3]);
    expect(await Promise.all(subs.map((s) => q.result(s.id)))).toEqual([0, 1, 2, 3, 4].map((i) => `done ${i}`));
    await q.stop();
  });

  it("a prefetched job is heartbeated, never rescued, however long the running one takes", async () => {
    const clock = new FakeClock();
    const { q, started, release } = blockingQueue(clock, { prefetch: 1, leaseMs: 3000 });
    const [, second] = await q.submitMany([
      { name: "block", input: "a" },
      { name: "block", input: "b" },
    ]);
    await q.start();
    for (let i = 0; i < 10; i++) await clock.advance(1000); // ten seconds: three leases long
    release.shift()!();
    await clock.advance(1);
    expect(started).toEqual(["a", "b"]);
    release.shift()!();
    await expect(q.result(second!.id)).resolves.toBe("done b");
    expect((await q.get(second!.id))?.attempt).toBe(1);
    await q.stop();
  });

  it("a prefetched job cancelled before it starts ends cancelled and never runs", async () => {
    const clock = new FakeClock();
    const { q, started, release } = blockingQueue(clock, { prefetch: 2 });
    const [, second] = await q.submitMany([
      { name: "block", input: "a" },
      { name: "block", input: "b" },
    ]);
    await q.start();
    await clock.advance(1);
    expect((await q.get(second!.id))?.state).toBe("running"); // leased, in the buffer
    expect(await q.cancel(second!.id, { reason: "not needed" })).toBe(true);
    await expect(q.result(second!.id)).rejects.toBeInstanceOf(JobCancelledError);
    release.shift()!();
    await clock.advance(1);
    expect(started).toEqual(["a"]);
    expect(await q.get(second!.id)).toMatchObject({ state: "cancelled", cancelReason: "not needed" });
    await q.stop();
  });

  it("stop hands prefetched jobs back: queued again, attempt undone", async () => {
    const clock = new FakeClock();
    const { q, release } = blockingQueue(clock, { prefetch: 2 });
    const subs = await q.submitMany(["a", "b", "c"].map((input) => ({ name: "block", input })));
    await q.start();
    await clock.advance(1);
    const stopping = q.stop({ graceful: true, timeoutMs: 10_000 });
    release.shift()!();
    await clock.advance(1);
    await stopping;
    expect((await q.store.get(subs[0]!.id))?.state).toBe("completed");
    for (const s of subs.slice(1)) {
      expect(await q.store.get(s.id)).toMatchObject({ state: "queued", attempt: 0, leaseOwner: null });
    }
  });

  it('"auto" does not claim again what it handed back before an attempt finishes', async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock, concurrency: 2, prefetch: "auto" });
    // two short jobs teach the worker a short mean run time; then every job runs a minute
    q.define("job", (job, ctx) => sleepOn(clock, job.input as number, ctx.signal));
    await q.submitMany([1, 1].map((input) => ({ name: "job", input })));
    await q.start();
    await flushPromises();
    await q.submitMany(Array.from({ length: 40 }, () => ({ name: "job", input: 60_000 })));
    await clock.advance(1);
    expect((await q.store.counts()).running).toBeGreaterThan(2); // prefetching by the short mean
    await clock.advance(PREFETCH_HOLD_MS);
    expect((await q.store.counts()).running).toBe(2); // the held jobs went back
    await q.submit("job", 60_000); // wakes the worker: it must not claim them again
    await clock.advance(PREFETCH_HOLD_MS);
    expect((await q.store.counts()).running).toBe(2);
    await q.stop({ graceful: false, timeoutMs: 100 });
  });

  it('"auto" guesses one more wave at first, keeps prefetching short jobs, and hands long ones back', async () => {
    for (const [runMs, expectAhead] of [
      [1, true],
      [60_000, false],
    ] as const) {
      const clock = new FakeClock();
      const q = new Optiq({ clock, concurrency: 2, prefetch: "auto" });
      q.define("job", (_job, ctx) => sleepOn(clock, runMs, ctx.signal));
      await q.submitMany(Array.from({ length: 40 }, () => ({ name: "job" })));
      await q.start();
      await flushPromises();
      // nothing is known of run times yet: the free slots and one more wave are leased
      expect((await q.store.counts()).running).toBe(4);
      if (!expectAhead) {
        await clock.advance(PREFETCH_HOLD_MS);
        // the guess was wrong: the wave that could not start goes back, and is not claimed again
        expect(await q.store.counts()).toMatchObject({ running: 2, queued: 38 });
        const waiting = await q.store.list({ state: "queued", limit: 40 });
        expect(waiting.every((j) => j.attempt === 0 && j.leaseOwner === null)).toBe(true);
      }
      await clock.advance(runMs); // the first two finish: now the mean run time is known
      const leased = (await q.store.counts()).running;
      if (expectAhead) expect(leased).toBeGreaterThan(2);
      else expect(leased).toBe(2);
      await q.stop({ graceful: false, timeoutMs: 100 });
    }
  });
  it("a handler that ignored its cancel and then returns hands its slot to the prefetched job", async () => {
    const clock = new FakeClock();
    // prefetch 2 for one waiting job: the claim comes back short, so a freed slot alone claims nothing
    const q = new Optiq({ clock, concurrency: 1, prefetch: 2, defaults: { abortGraceMs: 100 } });
    const started: string[] = [];
    let returnFirst = (): void => {};
    q.define("stubborn", (job) => {
      started.push(job.input as string);
      // ignores its signal: a zombie once the grace period is over
      return job.input === "a" ? new Promise<null>((r) => (returnFirst = () => r(null))) : null;
    });
    const [first, second] = await q.submitMany([
      { name: "stubborn", input: "a" },
      { name: "stubborn", input: "b" },
    ]);
    await q.start();
    await clock.advance(1);
    expect(started).toEqual(["a"]);
    await q.cancel(first!.id);
    await clock.advance(100);
    expect((await q.get(first!.id))?.state).toBe("cancelled");
    expect(started).toEqual(["a"]); // the zombie still holds the only slot
    returnFirst();
    await flushPromises();
    expect(started).toEqual(["a", "b"]);
    await expect(q.result(second!.id)).resolves.toBeNull();
    await q.stop();
  });
});
