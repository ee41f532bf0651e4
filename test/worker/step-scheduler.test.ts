import { describe, expect, it } from "vitest";
import { Optiq } from "../../src/index.js";
import { StepScheduler } from "../../src/worker/step-scheduler.js";

/** Resolves with the order in which `a` (scheduled first, by setImmediate) and the step ran. */
function race(scheduler: StepScheduler): Promise<string[]> {
  const order: string[] = [];
  return new Promise((resolve) => {
    setImmediate(() => order.push("immediate"));
    scheduler.schedule(() => order.push("step"));
    setImmediate(() => setImmediate(() => resolve(order)));
  });
}

function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    /* a handler hogging the thread */
  }
}

describe("StepScheduler", () => {
  it("runs steps of an in-process store in a microtask, before the event loop turns", async () => {
    expect(await race(new StepScheduler(true))).toEqual(["step", "immediate"]);
  });

  it("runs steps of other stores in setImmediate, gathering a turn's work", async () => {
    expect(await race(new StepScheduler(false))).toEqual(["immediate", "step"]);
  });

  it("hands the event loop back once a chain of microtask steps has run a few milliseconds", async () => {
    const scheduler = new StepScheduler(true);
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      scheduler.schedule(() => {
        order.push("first");
        busyFor(20);
        setImmediate(() => order.push("immediate"));
        scheduler.schedule(() => {
          order.push("second");
          resolve();
        });
      });
    });
    expect(order).toEqual(["first", "immediate", "second"]);
  });
});

describe("a long run of short jobs on the memory store", () => {
  it("does not starve timers: a timer set at the start fires long before the last job", async () => {
    const q = new Optiq({ concurrency: 100 });
    let ran = 0;
    q.define("noop", () => {
      ran++;
    });
    await q.start();
    await q.submitMany(Array.from({ length: 200_000 }, () => ({ name: "noop" })));
    const ranWhenTimerFired = await new Promise<number>((resolve) => setTimeout(() => resolve(ran), 0));
    const last = await q.submit("noop");
    await q.result(last.id, { timeoutMs: 60_000 });
    await q.stop();
    expect(ran).toBe(200_001);
    expect(ranWhenTimerFired).toBeLessThan(200_000);
  });
});
