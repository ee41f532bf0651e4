import { afterEach, describe, expect, it } from "vitest";
import { EVENT_NAMES, Optiq, type OptiqEventName, type OptiqEvents, type OptiqOptions } from "../../src/index.js";
import { FakeClock, flushPromises } from "../../src/core/fake-clock.js";
import { capturingLogger, deferred, once, times } from "../support/helpers.js";

const queues: Optiq[] = [];

function makeQueue(options: OptiqOptions = {}): { q: Optiq; clock: FakeClock } {
  const clock = new FakeClock();
  const q = new Optiq({ clock, concurrency: 4, ...options });
  queues.push(q);
  return { q, clock };
}

afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop({ timeoutMs: 1000 })));
});

type Recorded = { [E in OptiqEventName]: { event: E; payload: OptiqEvents[E] } }[OptiqEventName];

/** Records every event of the queue, in order. */
function record(q: Optiq): Recorded[] {
  const seen: Recorded[] = [];
  for (const event of EVENT_NAMES) q.on(event, (payload) => seen.push({ event, payload } as Recorded));
  return seen;
}

const forJob = (seen: Recorded[], id: string) => seen.filter((r) => r.event !== "drained" && r.payload.id === id);

describe("events", () => {
  it("a job that completes: submitted → started → progress → completed (result, runMs)", async () => {
    const { q, clock } = makeQueue();
    const gate = deferred();
    q.define("train", async (job, ctx) => {
      ctx.progress({ step: 1 });
      await gate.promise;
      return { score: (job.input as { x: number }).x * 2 };
    });
    const seen = record(q);
    await q.start();
    const progressed = once(q, "progress");
    const { id } = await q.submit("train", { x: 21 }, { priority: 3, group: "g1" });
    await progressed;
    await clock.advance(250);
    const completed = once(q, "completed");
    gate.resolve();
    await completed;

    const events = forJob(seen, id);
    expect(events.map((e) => e.event)).toEqual(["submitted", "started", "progress", "completed"]);
    const submittedAt = clock.now() - 250;
    expect(events[0]!.payload).toEqual({ id, name: "train", priority: 3, runAt: submittedAt, group: "g1" });
    expect(events[1]!.payload).toEqual({ id, name: "train", attempt: 1, queueWaitMs: 0 });
    expect(events[2]!.payload).toEqual({ id, name: "train", progress: { step: 1 } });
    expect(events[3]!.payload).toEqual({ id, name: "train", attempt: 1, result: { score: 42 }, runMs: 250 });
  });

  it("a job that retries then fails: retrying (error, runAt) on each failed attempt, then failed", async () => {
    const { q, clock } = makeQueue();
    q.define(
      "flaky",
      (job) => {
        throw new Error(`attempt ${job.attempt} broke`);
      },
      { maxAttempts: 3, backoff: { type: "fixed", delayMs: 500, jitter: false } },
    );
    const seen = record(q);
    await q.start();
    const firstRetry = once(q, "retrying");
    const { id } = await q.submit("flaky");
    const t0 = clock.now();
    const r1 = await firstRetry;
    expect(r1).toMatchObject({ id, name: "flaky", attempt: 1, runAt: t0 + 500 });
    expect(r1.error).toMatchObject({ name: "Error", message: "attempt 1 broke" });

    const secondRetry = once(q, "retrying");
    await clock.advance(500);
    const r2 = await secondRetry;
    expect(r2).toMatchObject({ id, attempt: 2, runAt: t0 + 1000, error: { message: "attempt 2 broke" } });

    const failed = once(q, "failed");
    await clock.advance(500);
    const f = await failed;
    expect(f).toMatchObject({ id, name: "flaky", attempt: 3, error: { name: "Error", message: "attempt 3 broke" } });

    expect(forJob(seen, id).map((e) => e.event)).toEqual([
      "submitted",
      "started",
      "retrying",
      "started",
      "retrying",
      "started",
      "failed",
    ]);
    const starts = forJob(seen, id).filter((e) => e.event === "started");
    expect(starts.map((e) => (e.payload as OptiqEvents["started"]).attempt)).toEqual([1, 2, 3]);
  });

  it("a NonRetryableError fails at once: no retrying event", async () => {
    const { q } = makeQueue();
    const { NonRetryableError } = await import("../../src/index.js");
    q.define("bad", () => {
      throw new NonRetryableError("bad input");
    });
    const seen = record(q);
    await q.start();
    const failed = once(q, "failed");
    const { id } = await q.submit("bad");
    expect(await failed).toMatchObject({
      id,
      attempt: 1,
      error: { code: "OPTIQ_NON_RETRYABLE", message: "bad input" },
    });
    expect(forJob(seen, id).map((e) => e.event)).toEqual(["submitted", "started", "failed"]);
  });

  it("a job cancelled while queued: cancelled with the reason, never started", async () => {
    const { q } = makeQueue();
    q.define("later", () => "ran");
    const seen = record(q);
    await q.start();
    const { id } = await q.submit("later", null, { delayMs: 60_000 });
    const cancelled = once(q, "cancelled");
    expect(await q.cancel(id, { reason: "user changed their mind" })).toBe(true);
    expect(await cancelled).toEqual({ id, name: "later", reason: "user changed their mind" });
    expect(forJob(seen, id).map((e) => e.event)).toEqual(["submitted", "cancelled"]);
    await expect(q.result(id)).rejects.toMatchObject({
      code: "OPTIQ_JOB_CANCELLED",
      reason: "user changed their mind",
    });
  });

  it("a job cancelled while running: its signal aborts and cancelled fires once the handler stopped", async () => {
    const { q } = makeQueue();
    const aborted = deferred<unknown>();
    q.define("long", (_job, ctx) => {
      return new Promise((_resolve, reject) => {
        ctx.signal.addEventListener("abort", () => {
          aborted.resolve(ctx.signal.reason);
          reject(ctx.signal.reason);
        });
      });
    });
    const seen = record(q);
    await q.start();
    const started = once(q, "started");
    const { id } = await q.submit("long");
    await started;
    const cancelled = once(q, "cancelled");
    expect(await q.cancel(id, { reason: "stop it" })).toBe(true);
    expect(await aborted.promise).toMatchObject({ code: "OPTIQ_JOB_CANCELLED" });
    expect((await cancelled).id).toBe(id);
    expect(forJob(seen, id).map((e) => e.event)).toEqual(["submitted", "started", "cancelled"]);
    const job = await q.get(id);
    expect(job?.state).toBe("cancelled");
    expect(job?.cancelReason).toBe("stop it");
  });

  it("drained fires once when everything is done, not on every idle moment, and again after new work", async () => {
    const { q, clock } = makeQueue({ concurrency: 2 });
    q.define("quick", (job) => job.input);
    let drained = 0;
    const order: string[] = [];
    q.on("completed", () => order.push("completed"));
    q.on("drained", () => {
      drained++;
      order.push("drained");
    });
    for (let i = 0; i < 5; i++) await q.submit("quick", i);
    const firstDrain = once(q, "drained");
    await q.start();
    await firstDrain;
    expect((await q.stats()).counts.completed).toBe(5);
    expect(order).toEqual(["completed", "completed", "completed", "completed", "completed", "drained"]);

    // heartbeats, the lease rescuer and the cleaner all run while idle: no further drained
    await clock.advance(120_000);
    await flushPromises();
    expect(drained).toBe(1);

    const secondDrain = once(q, "drained");
    await q.submit("quick", 6);
    await secondDrain;
    await flushPromises();
    expect(drained).toBe(2);
    expect(order.slice(-2)).toEqual(["completed", "drained"]);
  });

  it("a listener that throws does not break the queue, and is logged", async () => {
    const logger = capturingLogger();
    const { q } = makeQueue({ logger });
    q.define("fine", () => "ok");
    const boom = new Error("listener bug");
    q.on("started", () => {
      throw boom;
    });
    q.on("completed", () => {
      throw boom;
    });
    const calledAfter: string[] = [];
    q.on("completed", (e) => calledAfter.push(e.id));
    await q.start();
    const { id } = await q.submit("fine");
    expect(await q.result(id)).toBe("ok");
    expect((await q.get(id))?.state).toBe("completed");
    expect(calledAfter).toEqual([id]); // later listeners still run
    const logged = logger.find("event listener threw", "error");
    expect(logged.map((r) => r.obj.event).sort()).toEqual(["completed", "started"]);
    for (const r of logged) expect(r.obj.err).toBe(boom);

    // the queue keeps working afterwards
    const next = await q.submit("fine");
    expect(await q.result(next.id)).toBe("ok");
  });

  it("on() returns an unsubscribe function; off() removes a listener too", async () => {
    const { q } = makeQueue();
    q.define("x", (job) => job.input);
    const viaOn: string[] = [];
    const viaOff: string[] = [];
    const unsubscribe = q.on("completed", (e) => viaOn.push(e.id));
    const listener = (e: OptiqEvents["completed"]) => viaOff.push(e.id);
    q.on("completed", listener);
    await q.start();
    const a = await q.submit("x", 1);
    await q.result(a.id);
    expect(viaOn).toEqual([a.id]);
    expect(viaOff).toEqual([a.id]);

    unsubscribe();
    q.off("completed", listener);
    const done = times(q, "completed", 1);
    const b = await q.submit("x", 2);
    expect((await done)[0]!.id).toBe(b.id);
    expect(viaOn).toEqual([a.id]);
    expect(viaOff).toEqual([a.id]);
    unsubscribe(); // a second call is harmless
  });
});
