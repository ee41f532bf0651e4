import { describe, expect, it } from "vitest";
import { SlidingWindowLimiter } from "../../src/core/rate-limiter.js";
import { ClaimPlan, earliest, planClaim, prefetchLimit, type Buffered } from "../../src/worker/claim-plan.js";
import { fallbackDefinition, type ResolvedDefinition } from "../../src/worker/definition.js";

function def(name: string, options: Partial<ResolvedDefinition> = {}): ResolvedDefinition {
  return { ...fallbackDefinition(name), handler: () => undefined, concurrency: Infinity, ...options };
}

function defs(...list: ResolvedDefinition[]): Map<string, ResolvedDefinition> {
  return new Map(list.map((d) => [d.name, d]));
}

function buffered(names: string[] = []): Buffered {
  return { size: names.length, countOf: (name) => names.filter((n) => n === name).length };
}

/** A limiter with `used` of its `limit` starts taken at time 0. */
function limiter(limit: number, used: number, intervalMs = 1000): SlidingWindowLimiter {
  const l = new SlidingWindowLimiter({ limit, intervalMs });
  l.take(0, used);
  return l;
}

function plan(
  free: number,
  definitions: Map<string, ResolvedDefinition>,
  { prefetch = 0, buffer = buffered(), rateLimiter = null as SlidingWindowLimiter | null, now = 10 } = {},
) {
  const out = new ClaimPlan();
  const names = planClaim(out, now, free, prefetch, buffer, { rateLimiter, definitions });
  return { limit: out.limit, wakeAt: out.wakeAt, names: Object.fromEntries(names) };
}

describe("planClaim", () => {
  it("asks for one job per free slot, of every name with a handler", () => {
    expect(plan(4, defs(def("a"), def("b"), def("declared", { handler: undefined })))).toEqual({
      limit: 4,
      wakeAt: null,
      names: { a: 4, b: 4 },
    });
  });

  it("asks for nothing without free slots or prefetch room", () => {
    expect(plan(0, defs(def("a")))).toEqual({ limit: 0, wakeAt: null, names: {} });
  });

  it("counts buffered jobs against the free slots and adds the prefetch room", () => {
    expect(plan(4, defs(def("a")), { buffer: buffered(["a"]) }).limit).toBe(3);
    expect(plan(4, defs(def("a")), { prefetch: 10, buffer: buffered(["a", "a"]) }).limit).toBe(2 + 8);
    expect(plan(1, defs(def("a")), { prefetch: 2, buffer: buffered(["a", "a", "a"]) }).limit).toBe(0);
  });

  it("gives a name with its own concurrency only its free slots, less its buffered jobs", () => {
    const names = plan(10, defs(def("a", { concurrency: 3, busy: 1 }), def("b", { concurrency: 2, busy: 2 })), {
      buffer: buffered(["a"]),
    }).names;
    expect(names).toEqual({ a: 1 });
  });

  it("caps the claim by the queue's rate limit and prefetches nothing under one", () => {
    expect(plan(5, defs(def("a")), { prefetch: 10, rateLimiter: limiter(3, 1) })).toEqual({
      limit: 2,
      wakeAt: null,
      names: { a: 2 },
    });
  });

  it("claims nothing while the queue's rate limit is used up, and says when it opens", () => {
    expect(plan(5, defs(def("a")), { rateLimiter: limiter(2, 2, 1000) })).toEqual({
      limit: 0,
      wakeAt: 1000,
      names: {},
    });
  });

  it("caps a name by its rate limit and wakes at the earliest name's opening", () => {
    const a = def("a", { limiter: limiter(1, 1, 500) });
    const b = def("b", { limiter: limiter(1, 1, 300) });
    const c = def("c", { limiter: limiter(4, 1) });
    expect(plan(5, defs(a, b, c, def("d")))).toEqual({ limit: 5, wakeAt: 300, names: { c: 3, d: 5 } });
  });
});

describe("prefetchLimit", () => {
  it("is the configured number when not auto", () => {
    expect(prefetchLimit(7, 4, null)).toBe(7);
  });

  it("guesses one more wave with auto before any run time is known", () => {
    expect(prefetchLimit("auto", 4, null)).toBe(4);
    expect(prefetchLimit("auto", 4, null, 5)).toBe(4);
  });

  it("shrinks that guess while the running attempts show the jobs are long", () => {
    expect(prefetchLimit("auto", 4, null, 40)).toBe(2);
    expect(prefetchLimit("auto", 4, null, 1000)).toBe(0);
    // once attempts have finished, their mean decides
    expect(prefetchLimit("auto", 4, 10, 1000)).toBe(8);
  });

  it("holds about 20 ms of work per slot with auto, at most 1000 jobs", () => {
    expect(prefetchLimit("auto", 4, 10)).toBe(8);
    expect(prefetchLimit("auto", 4, 1000)).toBe(0);
    expect(prefetchLimit("auto", 4, 0)).toBe(1000);
    expect(prefetchLimit("auto", Infinity, 100)).toBe(200);
  });
});

describe("earliest", () => {
  it("takes the earlier time, null meaning never", () => {
    expect(earliest(null, null)).toBeNull();
    expect(earliest(5, null)).toBe(5);
    expect(earliest(null, 5)).toBe(5);
    expect(earliest(7, 5)).toBe(5);
  });
});
