import { afterEach, describe, expect, it } from "vitest";
import { Optiq, type OptiqOptions } from "../../src/index.js";
import { FakeClock } from "../../src/core/fake-clock.js";
import { deferred, once } from "../support/helpers.js";

const queues: Optiq[] = [];

function makeQueue(options: OptiqOptions = {}): { q: Optiq; clock: FakeClock; runs: unknown[] } {
  const clock = new FakeClock();
  const q = new Optiq({ clock, concurrency: 8, ...options });
  const runs: unknown[] = [];
  q.define("work", (job) => {
    runs.push(job.input);
    return { echoed: job.input };
  });
  queues.push(q);
  return { q, clock, runs };
}

afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop({ timeoutMs: 1000 })));
});

describe("idempotency keys", () => {
  it("the same key returns the same id with created false, and only one job runs", async () => {
    const { q, runs } = makeQueue();
    const first = await q.submit("work", 1, { key: "k1" });
    const second = await q.submit("work", 2, { key: "k1" });
    expect(first.created).toBe(true);
    expect(second).toEqual({ id: first.id, created: false });
    await q.start();
    expect(await q.result(first.id)).toEqual({ echoed: 1 });
    expect(runs).toEqual([1]); // the second input was never stored nor run
    const stats = await q.stats();
    expect(stats.counts.completed).toBe(1);
    expect(stats.totals.submitted).toBe(1);
  });

  it("different keys, and no key, create different jobs", async () => {
    const { q } = makeQueue();
    const a = await q.submit("work", 1, { key: "a" });
    const b = await q.submit("work", 1, { key: "b" });
    const c = await q.submit("work", 1);
    const d = await q.submit("work", 1);
    expect(new Set([a.id, b.id, c.id, d.id]).size).toBe(4);
    expect([a, b, c, d].every((r) => r.created)).toBe(true);
  });

  it("a duplicate does not emit submitted again", async () => {
    const { q } = makeQueue();
    const submitted: string[] = [];
    q.on("submitted", (e) => submitted.push(e.id));
    const { id } = await q.submit("work", 1, { key: "k" });
    await q.submit("work", 1, { key: "k" });
    expect(submitted).toEqual([id]);
  });

  it("50 concurrent submits with one key create exactly one job", async () => {
    const { q, runs } = makeQueue();
    await q.start();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => q.submit("work", i, { key: "same" })));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    await q.result(results[0]!.id);
    expect(runs).toHaveLength(1);
    const counts = (await q.stats()).counts;
    expect(counts.queued + counts.running + counts.completed + counts.failed + counts.cancelled).toBe(1);
  });

  it("within one submitMany batch a repeated key maps to the first item's job", async () => {
    const { q } = makeQueue();
    const results = await q.submitMany([
      { name: "work", input: 1, options: { key: "x" } },
      { name: "work", input: 2, options: { key: "x" } },
      { name: "work", input: 3 },
    ]);
    expect(results[0]!.created).toBe(true);
    expect(results[1]).toEqual({ id: results[0]!.id, created: false });
    expect(results[2]!.created).toBe(true);
    expect((await q.stats()).counts.queued).toBe(2);
  });

  it("while the job runs, the key still returns it", async () => {
    const { q } = makeQueue();
    const gate = deferred();
    q.define("slow", async () => {
      await gate.promise;
      return "done";
    });
    await q.start();
    const started = once(q, "started");
    const first = await q.submit("slow", null, { key: "running-key" });
    await started;
    expect((await q.get(first.id))?.state).toBe("running");
    expect(await q.submit("slow", null, { key: "running-key" })).toEqual({ id: first.id, created: false });
    gate.resolve();
    expect(await q.result(first.id)).toBe("done");
  });

  it("after the job finished the key still dedups while the job is retained", async () => {
    const { q, runs } = makeQueue();
    await q.start();
    const first = await q.submit("work", "once", { key: "done-key" });
    await q.result(first.id);
    const again = await q.submit("work", "twice", { key: "done-key" });
    expect(again).toEqual({ id: first.id, created: false });
    expect(await q.result(again.id)).toEqual({ echoed: "once" });
    expect(runs).toEqual(["once"]);
  });

  it("a failed or cancelled job keeps its key too", async () => {
    const { q } = makeQueue();
    q.define(
      "boom",
      () => {
        throw new Error("boom");
      },
      { maxAttempts: 1 },
    );
    await q.start();
    const failed = await q.submit("boom", null, { key: "f" });
    await expect(q.result(failed.id)).rejects.toMatchObject({ code: "OPTIQ_JOB_FAILED" });
    expect(await q.submit("boom", null, { key: "f" })).toEqual({ id: failed.id, created: false });

    const cancelled = await q.submit("work", null, { key: "c", delayMs: 60_000 });
    expect(await q.cancel(cancelled.id)).toBe(true);
    expect(await q.submit("work", null, { key: "c" })).toEqual({ id: cancelled.id, created: false });
  });

  it("with retention maxCount 0 the finished job is pruned at once and the key is free again", async () => {
    const { q, runs } = makeQueue({ retention: { maxCount: 0 } });
    await q.start();
    const completed = once(q, "completed");
    const first = await q.submit("work", "first", { key: "reuse" });
    expect((await completed).id).toBe(first.id);
    expect(await q.get(first.id)).toBeNull();
    const second = await q.submit("work", "second", { key: "reuse" });
    expect(second.created).toBe(true);
    expect(second.id).not.toBe(first.id);
    const completedAgain = once(q, "completed", (e) => e.id === second.id);
    expect((await completedAgain).result).toEqual({ echoed: "second" });
    expect(runs).toEqual(["first", "second"]);
  });

  it("with retention by age the key is free again once the finished job is pruned", async () => {
    const { q, clock } = makeQueue({ retention: { maxAgeMs: 1000 } });
    await q.start();
    const first = await q.submit("work", 1, { key: "aged" });
    await q.result(first.id);
    await clock.advance(500);
    expect(await q.submit("work", 2, { key: "aged" })).toEqual({ id: first.id, created: false });
    await clock.advance(501);
    expect(await q.store.prune(clock.now())).toBe(1);
    const second = await q.submit("work", 3, { key: "aged" });
    expect(second.created).toBe(true);
    expect(second.id).not.toBe(first.id);
  });
});
