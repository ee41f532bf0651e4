import { afterEach, describe, expect, it } from "vitest";
import {
  Optiq,
  OptiqError,
  PayloadTooLargeError,
  UnknownJobNameError,
  ValidationError,
  type OptiqOptions,
  type SubmitOptions,
} from "../../src/index.js";
import { FakeClock } from "../../src/core/fake-clock.js";
import { rejectionOf, thrownBy } from "../support/helpers.js";

const queues: Optiq[] = [];

function makeQueue(options: OptiqOptions = {}): { q: Optiq; clock: FakeClock } {
  const clock = new FakeClock();
  const q = new Optiq({ clock, concurrency: 4, ...options });
  q.define("echo", (job) => job.input);
  queues.push(q);
  return { q, clock };
}

afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop({ timeoutMs: 1000 })));
});

async function submitError(q: Optiq, name: unknown, input?: unknown, options?: unknown): Promise<OptiqError> {
  const err = await rejectionOf(q.submit(name as string, input, options as SubmitOptions));
  expect(err).toBeInstanceOf(OptiqError);
  return err as OptiqError;
}

async function expectValidation(q: Optiq, field: string | RegExp, name: unknown, input?: unknown, options?: unknown) {
  const err = await submitError(q, name, input, options);
  expect(err).toBeInstanceOf(ValidationError);
  expect(err.code).toBe("OPTIQ_VALIDATION");
  expect(err.status).toBe(400);
  const actual = (err as ValidationError).field;
  if (typeof field === "string") expect(actual).toBe(field);
  else expect(actual).toMatch(field);
  return err as ValidationError;
}

describe("submit: job name", () => {
  it("an unknown name rejects with UnknownJobNameError on field name", async () => {
    const { q } = makeQueue();
    const err = await submitError(q, "nope", 1);
    expect(err).toBeInstanceOf(UnknownJobNameError);
    expect(err.code).toBe("OPTIQ_UNKNOWN_JOB_NAME");
    expect((err as UnknownJobNameError).field).toBe("name");
    expect((err as UnknownJobNameError).jobName).toBe("nope");
  });

  it.each([
    ["a number", 42],
    ["undefined", undefined],
    ["null", null],
    ["an object", { name: "echo" }],
    ["the empty string", ""],
    ["a too long string", "x".repeat(129)],
  ])("a name that is %s rejects with ValidationError on field name", async (_label, name) => {
    const { q } = makeQueue();
    await expectValidation(q, "name", name, 1);
  });
});

describe("submit: input must be plain JSON", () => {
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;

  it.each([
    ["a function", () => 1, "input"],
    ["a symbol", Symbol("s"), "input"],
    ["a BigInt", 10n, "input"],
    ["a circular object", circular, "input.self"],
    ["NaN", NaN, "input"],
    ["Infinity", Infinity, "input"],
    ["-Infinity", -Infinity, "input"],
    ["a Map", new Map([["a", 1]]), "input"],
    ["a Set", new Set([1]), "input"],
    ["a nested function", { fn: () => 1 }, "input.fn"],
    ["a nested NaN", { x: NaN }, "input.x"],
    ["a nested Map", { m: new Map() }, "input.m"],
    ["a nested BigInt", { n: 1n }, "input.n"],
    ["a function in an array", [1, () => 2], "input[1]"],
    ["a deeply nested function", { a: { runs: [{ ok: 1 }, { fn: () => 2 }] } }, "input.a.runs[1].fn"],
  ])("%s rejects with ValidationError naming the input", async (_label, input, field) => {
    const { q } = makeQueue();
    const err = await expectValidation(q, field, "echo", input);
    expect(err.message.length).toBeGreaterThan(0);
  });

  it("accepts JSON values, and undefined as no input", async () => {
    const { q } = makeQueue();
    for (const input of [undefined, null, 0, -1.5, "s", true, [1, "a", null], { a: { b: [1, 2] } }, new Date(0)]) {
      const r = await q.submit("echo", input);
      expect(r.created).toBe(true);
    }
    expect((await q.stats()).counts.queued).toBe(9);
  });

  it("an input larger than maxPayloadBytes rejects with PayloadTooLargeError (bytes and limit)", async () => {
    const { q } = makeQueue({ maxPayloadBytes: 64 });
    const err = await submitError(q, "echo", "x".repeat(100));
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err.code).toBe("OPTIQ_PAYLOAD_TOO_LARGE");
    expect(err.status).toBe(413);
    const p = err as PayloadTooLargeError;
    expect(p.field).toBe("input");
    expect(p.bytes).toBe(102); // the JSON string, quotes included
    expect(p.limit).toBe(64);
  });

  it("the payload limit counts UTF-8 bytes, not characters", async () => {
    const { q } = makeQueue({ maxPayloadBytes: 64 });
    await expect(q.submit("echo", "é".repeat(30))).resolves.toMatchObject({ created: true }); // 62 bytes
    const err = await submitError(q, "echo", "é".repeat(40)); // 82 bytes, 42 characters
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect((err as PayloadTooLargeError).bytes).toBe(82);
  });
});

describe("submit: options", () => {
  it.each<[string, Record<string, unknown>, string]>([
    ["NaN priority", { priority: NaN }, "options.priority"],
    ["a non-integer priority", { priority: 1.5 }, "options.priority"],
    ["an infinite priority", { priority: Infinity }, "options.priority"],
    ["a string priority", { priority: "1" }, "options.priority"],
    ["a priority beyond 2^31-1", { priority: 2 ** 31 }, "options.priority"],
    ["a negative delayMs", { delayMs: -1 }, "options.delayMs"],
    ["a NaN delayMs", { delayMs: NaN }, "options.delayMs"],
    ["an infinite delayMs", { delayMs: Infinity }, "options.delayMs"],
    ["a string delayMs", { delayMs: "10" }, "options.delayMs"],
    ["timeoutMs 0", { timeoutMs: 0 }, "options.timeoutMs"],
    ["a negative timeoutMs", { timeoutMs: -5 }, "options.timeoutMs"],
    ["a NaN timeoutMs", { timeoutMs: NaN }, "options.timeoutMs"],
    ["maxAttempts 0", { maxAttempts: 0 }, "options.maxAttempts"],
    ["maxAttempts 1.5", { maxAttempts: 1.5 }, "options.maxAttempts"],
    ["maxAttempts 1001", { maxAttempts: 1001 }, "options.maxAttempts"],
    ["a negative maxAttempts", { maxAttempts: -1 }, "options.maxAttempts"],
    ["an unknown backoff type", { backoff: { type: "linear", delayMs: 10 } }, "options.backoff.type"],
    ["a backoff that is not an object", { backoff: "fixed" }, "options.backoff"],
    ["a fixed backoff with a negative delay", { backoff: { type: "fixed", delayMs: -1 } }, "options.backoff.delayMs"],
    [
      "a non-boolean backoff jitter",
      { backoff: { type: "fixed", delayMs: 1, jitter: "no" } },
      "options.backoff.jitter",
    ],
    [
      "an exponential backoff with maxMs < baseMs",
      { backoff: { type: "exponential", baseMs: 100, maxMs: 10 } },
      "options.backoff.maxMs",
    ],
    ["both delayMs and runAt", { delayMs: 10, runAt: Date.now() + 10 }, "options.runAt"],
    ["a runAt that is not a date", { runAt: "tomorrow" }, "options.runAt"],
    ["an invalid Date runAt", { runAt: new Date("nope") }, "options.runAt"],
    ["an unknown option", { prio: 1 }, "options.prio"],
    ["an empty key", { key: "" }, "options.key"],
    ["a non-string key", { key: 42 }, "options.key"],
    ["a key longer than 256", { key: "k".repeat(257) }, "options.key"],
    ["an empty group", { group: "" }, "options.group"],
    ["a non-string group", { group: 7 }, "options.group"],
    ["a bad ifFull", { ifFull: "drop" }, "options.ifFull"],
  ])("%s rejects with ValidationError on %s", async (_label, options, field) => {
    const { q } = makeQueue();
    await expectValidation(q, field, "echo", 1, options);
  });

  it("options that are not an object reject", async () => {
    const { q } = makeQueue();
    await expectValidation(q, "options", "echo", 1, null);
  });

  it("accepts valid edge values: negative priority, delayMs 0, timeoutMs null, maxAttempts 1 and 1000", async () => {
    const { q } = makeQueue();
    for (const options of [
      { priority: -5 },
      { delayMs: 0 },
      { timeoutMs: null },
      { timeoutMs: 1 },
      { maxAttempts: 1 },
      { maxAttempts: 1000 },
      { backoff: { type: "fixed" as const, delayMs: 0, jitter: false } },
      { runAt: new Date(0) },
      { key: "k" },
      { group: "g" },
    ]) {
      await expect(q.submit("echo", 1, options)).resolves.toMatchObject({ created: true });
    }
  });
});

describe("a rejected submission", () => {
  it("stores nothing and counts as rejected", async () => {
    const { q } = makeQueue();
    await q.submit("echo", 1);
    const before = await q.stats();
    await submitError(q, "echo", () => 1);
    await submitError(q, "nope", 1);
    await submitError(q, "echo", 1, { priority: 0.5 });
    const after = await q.stats();
    expect(after.counts).toEqual(before.counts);
    expect(await q.list()).toHaveLength(1);
    expect(after.totals.rejected).toBe(before.totals.rejected + 3);
    expect(after.totals.submitted).toBe(before.totals.submitted);
  });

  it("an invalid waitTimeoutMs also counts as rejected and stores nothing", async () => {
    const { q } = makeQueue();
    await expectValidation(q, "options.waitTimeoutMs", "echo", 1, { waitTimeoutMs: -1 });
    const stats = await q.stats();
    expect(stats.totals.rejected).toBe(1);
    expect(stats.counts.queued).toBe(0);
  });
});

describe("submitMany", () => {
  it("one bad item rejects the whole batch, naming the item, and stores nothing", async () => {
    const { q } = makeQueue();
    const err = await rejectionOf(
      q.submitMany([
        { name: "echo", input: 1 },
        { name: "echo", input: 2 },
        { name: "echo", input: { fn: () => 3 } },
        { name: "echo", input: 4 },
      ]),
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe("items[2].input.fn");
    const stats = await q.stats();
    expect(stats.counts.queued).toBe(0);
    expect(stats.totals.rejected).toBe(1);
    expect(await q.list()).toEqual([]);
  });

  it.each<[string, unknown[], string]>([
    ["a non-serialisable input", [{ name: "echo" }, { name: "echo", input: 1n }], "items[1].input"],
    ["a bad option", [{ name: "echo", options: { priority: 0.5 } }], "items[0].options.priority"],
    ["a bad name", [{ name: "echo" }, { name: "" }], "items[1].name"],
    ["a non-object item", [{ name: "echo" }, null], "items[1]"],
  ])("%s names the item", async (_label, items, field) => {
    const { q } = makeQueue();
    const err = await rejectionOf(q.submitMany(items as never));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect((await q.stats()).counts.queued).toBe(0);
  });

  it("an unknown name in the batch rejects with UnknownJobNameError and stores nothing", async () => {
    const { q } = makeQueue();
    const err = await rejectionOf(q.submitMany([{ name: "echo" }, { name: "nope" }]));
    expect(err).toBeInstanceOf(UnknownJobNameError);
    expect((await q.stats()).counts.queued).toBe(0);
  });

  it("a non-array rejects on field items", async () => {
    const { q } = makeQueue();
    const err = await rejectionOf(q.submitMany("x" as never));
    expect((err as ValidationError).field).toBe("items");
  });

  it("a valid batch stores every item", async () => {
    const { q } = makeQueue();
    const results = await q.submitMany([
      { name: "echo", input: 1 },
      { name: "echo", input: 2, options: { priority: 3 } },
    ]);
    expect(results.map((r) => r.created)).toEqual([true, true]);
    expect((await q.stats()).counts.queued).toBe(2);
  });
});

describe("constructor options", () => {
  it.each<[string, OptiqOptions, string]>([
    ["concurrency 0", { concurrency: 0 }, "options.concurrency"],
    ["concurrency 1.5", { concurrency: 1.5 }, "options.concurrency"],
    ["leaseMs -1", { leaseMs: -1 }, "options.leaseMs"],
    ["leaseMs 0", { leaseMs: 0 }, "options.leaseMs"],
    ["a group concurrency 0", { groups: { g: { concurrency: 0 } } }, "options.groups.g.concurrency"],
    [
      "a group rate limit 0",
      { groups: { g: { rateLimit: { limit: 0, intervalMs: 10 } } } },
      "options.groups.g.rateLimit.limit",
    ],
    ["rateLimit.limit 0", { rateLimit: { limit: 0, intervalMs: 1000 } }, "options.rateLimit.limit"],
    ["rateLimit.intervalMs 0", { rateLimit: { limit: 1, intervalMs: 0 } }, "options.rateLimit.intervalMs"],
    ["maxQueued 0", { maxQueued: 0 }, "options.maxQueued"],
    ["maxPayloadBytes 1", { maxPayloadBytes: 1 }, "options.maxPayloadBytes"],
    ["retention.maxCount -1", { retention: { maxCount: -1 } }, "options.retention.maxCount"],
    ["retention.maxAgeMs NaN", { retention: { maxAgeMs: NaN } }, "options.retention.maxAgeMs"],
    ["defaults.maxAttempts 0", { defaults: { maxAttempts: 0 } }, "options.defaults.maxAttempts"],
  ])("%s throws ValidationError on %s", (_label, options, field) => {
    const err = thrownBy(() => new Optiq({ clock: new FakeClock(), ...options }));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
  });

  it("options that are not an object throw", () => {
    const err = thrownBy(() => new Optiq(null as never));
    expect((err as ValidationError).field).toBe("options");
  });
});

describe("define", () => {
  it.each([
    ["a string", "handler"],
    ["undefined", undefined],
    ["an object", { run: () => 1 }],
  ])("a handler that is %s throws ValidationError on field handler", (_label, handler) => {
    const { q } = makeQueue();
    const err = thrownBy(() => q.define("x", handler as never));
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe("handler");
  });

  it("invalid define options throw ValidationError naming them", () => {
    const { q } = makeQueue();
    const err = thrownBy(() => q.define("x", () => 1, { maxAttempts: 0 }));
    expect((err as ValidationError).field).toBe("options.maxAttempts");
    const err2 = thrownBy(() => q.define("", () => 1));
    expect((err2 as ValidationError).field).toBe("name");
  });
});

describe("what a handler produces is validated too", () => {
  const fast = { backoff: { type: "fixed" as const, delayMs: 0, jitter: false }, maxAttempts: 3 };

  it.each([
    ["a BigInt", () => 1n],
    [
      "a circular object",
      () => {
        const o: Record<string, unknown> = {};
        o.o = o;
        return o;
      },
    ],
    ["a function", () => () => 1],
    ["an object holding a Map", () => ({ m: new Map() })],
  ])("a result that is %s fails the job at once, with an error naming result", async (_label, make) => {
    const { q } = makeQueue();
    let runs = 0;
    q.define(
      "bad-result",
      () => {
        runs++;
        return make();
      },
      fast,
    );
    await q.start();
    const { id } = await q.submit("bad-result");
    const err = await rejectionOf(q.result(id));
    expect((err as OptiqError).code).toBe("OPTIQ_JOB_FAILED");
    const job = await q.get(id);
    expect(job?.state).toBe("failed");
    expect(job?.attempt).toBe(1);
    expect(runs).toBe(1);
    expect(job?.error?.code).toBe("OPTIQ_VALIDATION");
    expect(job?.error?.message).toMatch(/^result/);
  });

  it("a result larger than maxPayloadBytes fails the job with OPTIQ_PAYLOAD_TOO_LARGE, without retry", async () => {
    const { q } = makeQueue({ maxPayloadBytes: 64 });
    q.define("big", () => "y".repeat(1000), fast);
    await q.start();
    const { id } = await q.submit("big");
    await rejectionOf(q.result(id));
    const job = await q.get(id);
    expect(job?.state).toBe("failed");
    expect(job?.attempt).toBe(1);
    expect(job?.error?.code).toBe("OPTIQ_PAYLOAD_TOO_LARGE");
    expect(job?.error?.message).toMatch(/^result/);
  });

  it("ctx.progress with a non-serialisable value throws ValidationError inside the handler", async () => {
    const { q } = makeQueue();
    q.define("progress", (_job, ctx) => {
      const seen: { field: string; isValidation: boolean }[] = [];
      for (const value of [() => 1, 1n, NaN, new Set()]) {
        try {
          ctx.progress(value);
        } catch (err) {
          seen.push({ field: (err as ValidationError).field, isValidation: err instanceof ValidationError });
        }
      }
      ctx.progress(0.5);
      return seen;
    });
    const reported: unknown[] = [];
    q.on("progress", (e) => reported.push(e.progress));
    await q.start();
    const { id } = await q.submit("progress");
    const seen = await q.result(id);
    expect(reported).toEqual([0.5]); // the rejected values were never reported
    expect(seen).toEqual([
      { field: "progress", isValidation: true },
      { field: "progress", isValidation: true },
      { field: "progress", isValidation: true },
      { field: "progress", isValidation: true },
    ]);
  });

  it("ctx.checkpoint with a non-serialisable value throws ValidationError inside the handler", async () => {
    const { q } = makeQueue();
    q.define("checkpoint", (_job, ctx) => {
      try {
        ctx.checkpoint({ f: () => 1 });
        return "accepted";
      } catch (err) {
        return (err as ValidationError).field;
      }
    });
    await q.start();
    const { id } = await q.submit("checkpoint");
    expect(await q.result(id)).toBe("checkpoint.f");
  });
});

describe("list: filters", () => {
  it.each([
    [{ state: "done" }, "state"],
    [{ name: 42 }, "name"],
    [{ group: "" }, "group"],
    [{ beforeId: "abc" }, "beforeId"],
    [{ beforeId: "-5" }, "beforeId"],
    [{ limit: 0 }, "limit"],
  ])("%o rejects with a ValidationError naming %s", async (params, field) => {
    const { q } = makeQueue();
    const err = await rejectionOf(q.list(params as Parameters<Optiq["list"]>[0]));
    expect(err).toMatchObject({ code: "OPTIQ_VALIDATION", field });
  });

  it("pages by beforeId, newest first", async () => {
    const { q } = makeQueue();
    const ids = (await q.submitMany([1, 2, 3].map((n) => ({ name: "echo", input: n })))).map((s) => s.id);
    expect((await q.list({ beforeId: ids[2]!, limit: 5 })).map((j) => j.id)).toEqual([ids[1], ids[0]]);
  });
});
