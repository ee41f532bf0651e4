/**
 * A job due in a month: Node's timers take at most 2^31 - 1 ms (~24.8 days)
 * and fire after 1 ms when asked for longer, which turned the worker's
 * wake-up for such a job into a claim every millisecond. The system clock
 * clamps its timers; the worker then wakes early, finds nothing due, and
 * sets the next one.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { Optiq } from "../../src/index.js";
import { MAX_TIMER_MS, systemClock } from "../../src/core/clock.js";
import { flushPromises } from "../../src/testing.js";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("timers for far-future work", () => {
  it("the system clock never asks Node for a delay it would turn into 1 ms", () => {
    const spy = vi.spyOn(globalThis, "setTimeout");
    const handle = systemClock.setTimeout(() => undefined, 30 * 24 * 3600_000);
    systemClock.clearTimeout(handle);
    expect(spy).toHaveBeenCalledWith(expect.any(Function), MAX_TIMER_MS);
  });

  it("a job due in 30 days leaves the worker one timer within Node's range, and a single claim", async () => {
    const q = new Optiq();
    q.define("later", () => "done");
    let claims = 0;
    const claim = q.store.claim.bind(q.store);
    q.store.claim = (params) => {
      claims++;
      return claim(params);
    };
    await q.start();
    await flushPromises();
    const before = claims;
    const spy = vi.spyOn(globalThis, "setTimeout");
    await q.submit("later", null, { runAt: Date.now() + 30 * 24 * 3600_000 });
    await flushPromises(50);
    const delays = spy.mock.calls.map(([, ms]) => ms ?? 0);
    expect(delays.every((ms) => ms <= MAX_TIMER_MS)).toBe(true);
    expect(delays.some((ms) => ms > 20 * 24 * 3600_000)).toBe(true); // the wake-up is set, days ahead
    expect(claims - before).toBe(1);
    await q.stop();
  });
});
