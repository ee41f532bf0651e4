import { describe, expect, it } from "vitest";
import { Optiq } from "../../src/index.js";

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
