import { afterEach, describe, expect, it } from "vitest";
import { Optiq, type OptiqOptions } from "../../src/index.js";
import { FakeClock } from "../../src/core/fake-clock.js";
import { capturingLogger, deferred, once, type CapturingLogger, type LogRecord } from "../support/helpers.js";

const queues: Optiq[] = [];

function makeQueue(options: OptiqOptions = {}): { q: Optiq; clock: FakeClock; logger: CapturingLogger } {
  const clock = new FakeClock();
  const logger = capturingLogger();
  const q = new Optiq({ clock, logger, concurrency: 4, workerId: "w-test", ...options });
  queues.push(q);
  return { q, clock, logger };
}

afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop({ timeoutMs: 1000 })));
});

const ofJob = (logger: CapturingLogger, id: string): LogRecord[] => logger.records.filter((r) => r.obj.jobId === id);
const one = (records: LogRecord[], msg: string): LogRecord => {
  const found = records.filter((r) => r.msg === msg);
  expect(found, `exactly one "${msg}" record`).toHaveLength(1);
  return found[0]!;
};

describe("logging", () => {
  it("a completed job logs submitted, started and completed, each with jobId and name", async () => {
    const { q, logger } = makeQueue();
    q.define("ok", () => 42);
    await q.start();
    const { id } = await q.submit("ok");
    await q.result(id);
    const records = ofJob(logger, id);
    expect(records.map((r) => r.msg)).toEqual(["job submitted", "job started", "job completed"]);
    for (const r of records) expect(r.obj).toMatchObject({ jobId: id, name: "ok" });
    expect(one(records, "job started").obj).toMatchObject({ attempt: 1 });
    expect(one(records, "job completed").obj).toMatchObject({ attempt: 1, runMs: 0 });
  });

  it("a job that retries then fails logs retrying (warn) and failed (error) with the error and its cause", async () => {
    const { q, clock, logger } = makeQueue();
    q.define(
      "flaky",
      (job) => {
        throw new Error(`attempt ${job.attempt} failed`, { cause: new Error("connection reset") });
      },
      { maxAttempts: 2, backoff: { type: "fixed", delayMs: 100, jitter: false } },
    );
    await q.start();
    const retrying = once(q, "retrying");
    const { id } = await q.submit("flaky");
    await retrying;
    const failed = once(q, "failed");
    await clock.advance(100);
    await failed;

    const records = ofJob(logger, id);
    expect(records.map((r) => r.msg)).toEqual([
      "job submitted",
      "job started",
      "job failed; retrying",
      "job started",
      "job failed",
    ]);
    for (const r of records) expect(r.obj).toMatchObject({ jobId: id, name: "flaky" });

    const retry = one(records, "job failed; retrying");
    expect(retry.level).toBe("warn");
    expect(retry.obj).toMatchObject({
      attempt: 1,
      runAt: expect.any(Number),
      err: { name: "Error", message: "attempt 1 failed", cause: { message: "connection reset" } },
    });

    const fail = one(records, "job failed");
    expect(fail.level).toBe("error");
    expect(fail.obj).toMatchObject({
      attempt: 2,
      err: { name: "Error", message: "attempt 2 failed", cause: { message: "connection reset" } },
    });
    expect((fail.obj.err as { stack?: string }).stack).toContain("attempt 2 failed");
  });

  it("a job cancelled while queued logs the cancel with jobId and reason", async () => {
    const { q, logger } = makeQueue();
    q.define("later", () => "never");
    await q.start();
    const { id } = await q.submit("later", null, { delayMs: 10_000 });
    await q.cancel(id, { reason: "not needed" });
    const records = ofJob(logger, id);
    expect(records.map((r) => r.msg)).toEqual(["job submitted", "job cancelled while queued"]);
    const cancelled = one(records, "job cancelled while queued");
    expect(cancelled.level).toBe("info");
    expect(cancelled.obj).toMatchObject({ jobId: id, reason: "not needed" });
  });

  it("a job cancelled while running logs the abort and the cancel with jobId and name", async () => {
    const { q, logger } = makeQueue();
    q.define("long", (_job, ctx) => {
      return new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
    });
    await q.start();
    const started = once(q, "started");
    const { id } = await q.submit("long");
    await started;
    const cancelled = once(q, "cancelled");
    await q.cancel(id, { reason: "stop" });
    await cancelled;
    const records = ofJob(logger, id);
    expect(records.map((r) => r.msg)).toEqual(["job submitted", "job started", "aborting job", "job cancelled"]);
    for (const r of records) expect(r.obj).toMatchObject({ jobId: id, name: "long" });
    expect(one(records, "aborting job").obj).toMatchObject({ reason: "OPTIQ_JOB_CANCELLED" });
  });

  it("a handler ignoring its abort is settled after the grace period, with a warning", async () => {
    const { q, clock, logger } = makeQueue();
    const never = deferred<string>();
    q.define("stubborn", () => never.promise, { abortGraceMs: 500 });
    await q.start();
    const started = once(q, "started");
    const { id } = await q.submit("stubborn");
    await started;
    await q.cancel(id, { reason: "please stop" });
    expect((await q.get(id))?.state).toBe("running");
    const cancelled = once(q, "cancelled");
    await clock.advance(500);
    await cancelled;
    expect((await q.get(id))?.state).toBe("cancelled");
    const warn = logger.records.find((r) => r.level === "warn" && r.obj.jobId === id);
    expect(warn?.obj).toMatchObject({ jobId: id, name: "stubborn", graceMs: 500 });
    never.resolve("late");
  });

  it("rejected submissions, start and stop are logged", async () => {
    const { q, logger } = makeQueue();
    q.define("x", () => 1);
    await q.submit("x", () => 1).catch(() => undefined);
    const rejected = logger.find("submission rejected", "debug");
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.obj).toMatchObject({ code: "OPTIQ_VALIDATION", err: expect.any(Error) });
    await q.start();
    expect(logger.find("optiq started", "info")[0]?.obj).toMatchObject({ workerId: "w-test", concurrency: 4 });
    await q.stop();
    expect(logger.find("optiq stopped", "info")[0]?.obj).toMatchObject({ workerId: "w-test" });
  });
});
