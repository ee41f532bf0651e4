import { describe, expect, it } from "vitest";
import type { ClaimedJob } from "../../src/store/port.js";
import { FakeClock } from "../../src/testing.js";
import { PrefetchBuffer } from "../../src/worker/prefetch-buffer.js";
import { PREFETCH_HOLD_MS, PrefetchHold } from "../../src/worker/prefetch-hold.js";

function job(id: string, name = "job"): ClaimedJob {
  return { id, name, attempt: 1 } as unknown as ClaimedJob;
}

describe("PrefetchBuffer", () => {
  it("gives up the jobs held since a time, oldest first, and keeps per-name counts right", () => {
    const buffer = new PrefetchBuffer();
    buffer.push(job("a", "x"), 10);
    buffer.push(job("b", "y"), 20);
    buffer.push(job("c", "x"), 30);
    expect(buffer.oldestSince).toBe(10);
    expect(buffer.takeHeldSince(20).map((j) => j.id)).toEqual(["a", "b"]);
    expect(buffer.size).toBe(1);
    expect(buffer.countOf("x")).toBe(1);
    expect(buffer.countOf("y")).toBe(0);
    expect(buffer.oldestSince).toBe(30);
  });

  it("keeps the times in step when a job is taken from the middle", () => {
    const buffer = new PrefetchBuffer();
    buffer.push(job("a"), 10);
    buffer.push(job("b"), 20);
    buffer.push(job("c"), 30);
    expect(buffer.remove("a")?.id).toBe("a");
    expect(buffer.oldestSince).toBe(20);
    expect(buffer.takeFirst((j) => j.id === "c")?.id).toBe("c");
    expect(buffer.takeHeldSince(25).map((j) => j.id)).toEqual(["b"]);
    expect(buffer.oldestSince).toBeNull();
  });
});

describe("PrefetchHold", () => {
  it("hands back the jobs that waited PREFETCH_HOLD_MS, and only those", async () => {
    const clock = new FakeClock();
    const buffer = new PrefetchBuffer();
    const released: string[][] = [];
    const hold = new PrefetchHold(clock, buffer, async (jobs) => {
      released.push(jobs.map((j) => j.id));
    });
    buffer.push(job("a"), clock.now());
    hold.watch();
    await clock.advance(PREFETCH_HOLD_MS / 2);
    buffer.push(job("b"), clock.now());
    hold.watch();
    await clock.advance(PREFETCH_HOLD_MS / 2 - 1);
    expect(released).toEqual([]);
    await clock.advance(1);
    expect(released).toEqual([["a"]]);
    expect(buffer.size).toBe(1);
    await clock.advance(PREFETCH_HOLD_MS / 2);
    expect(released).toEqual([["a"], ["b"]]);
    expect(buffer.size).toBe(0);
    hold.stop();
  });

  it("hands back nothing that started in time, and nothing after stop()", async () => {
    const clock = new FakeClock();
    const buffer = new PrefetchBuffer();
    const released: string[] = [];
    const hold = new PrefetchHold(clock, buffer, async (jobs) => {
      released.push(...jobs.map((j) => j.id));
    });
    buffer.push(job("a"), clock.now());
    buffer.push(job("b"), clock.now());
    hold.watch();
    buffer.takeFirst(() => true); // a starts
    await clock.advance(PREFETCH_HOLD_MS);
    expect(released).toEqual(["b"]);
    buffer.push(job("c"), clock.now());
    hold.watch();
    hold.stop();
    await clock.advance(2 * PREFETCH_HOLD_MS);
    expect(released).toEqual(["b"]);
    expect(buffer.size).toBe(1);
  });
});
