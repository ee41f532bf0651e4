import { describe, expect, it } from "vitest";
import { makeJob, makeJobs } from "../../support/job-factory.js";
import { withClient } from "../../support/pg.js";
import { LEASE_MS, Recorder, T0, useSchema } from "./fixtures.js";

const done = { kind: "completed", resultJson: "null" } as const;

describe("PostgresStore: wake-ups across instances (LISTEN/NOTIFY)", () => {
  const fx = useSchema();

  it("tells another instance's listener about new work, finished jobs and cancel requests", async () => {
    const watcher = await fx.open({ pollIntervalMs: 0 });
    const worker = await fx.open({ pollIntervalMs: 0 });
    const rec = new Recorder();
    await watcher.subscribe(rec);

    const created = await worker.enqueue({ jobs: makeJobs(3, T0), now: T0, maxQueued: null });
    await rec.untilAvailable(1);

    const { jobs } = await worker.claim({
      workerId: "w",
      limit: 3,
      names: new Map([["t", 3]]),
      leaseMs: LEASE_MS,
      now: T0,
    });
    expect(jobs.map((j) => j.id)).toEqual(created.map((c) => c.id));
    const [a, b, c] = jobs;

    // cancel while running: the watcher hears the request, then the finish once the worker settles
    expect(await watcher.cancel({ id: c!.id, reason: "user", now: T0 + 1 })).toBe("requested");
    await rec.untilCancelRequested([c!.id]);

    await worker.settle({
      workerId: "w",
      settlements: [a!, b!, c!].map((j) => ({ id: j.id, attempt: j.attempt, outcome: done })),
      now: T0 + 2,
    });
    await rec.untilFinished([a!.id, b!.id, c!.id]);
    expect((await watcher.get(c!.id))?.state).toBe("cancelled");
  });

  it("delivers onFinished for a 1000-job settle in several notifications under the payload limit", async () => {
    const watcher = await fx.open({ pollIntervalMs: 0 });
    const worker = await fx.open({ pollIntervalMs: 0 });
    const rec = new Recorder();
    await watcher.subscribe(rec);
    await worker.enqueue({ jobs: makeJobs(1000, T0), now: T0, maxQueued: null });
    const { jobs } = await worker.claim({
      workerId: "w",
      limit: 1000,
      names: new Map([["t", 1000]]),
      leaseMs: LEASE_MS,
      now: T0,
    });
    expect(jobs).toHaveLength(1000);
    await worker.settle({
      workerId: "w",
      settlements: jobs.map((j) => ({ id: j.id, attempt: j.attempt, outcome: done })),
      now: T0 + 1,
    });
    await rec.untilFinished(jobs.map((j) => j.id));
    expect(new Set(rec.finished).size).toBe(1000);
  });

  it("subscribe resolves only once LISTEN is live: subscribe, then write from elsewhere, is never missed", async () => {
    const watcher = await fx.open({ pollIntervalMs: 0 });
    const other = await fx.open({ pollIntervalMs: 0 });
    for (let i = 0; i < 5; i++) {
      const rec = new Recorder();
      const unsubscribe = await watcher.subscribe(rec);
      const [created] = await other.enqueue({ jobs: [makeJob(T0)], now: T0, maxQueued: null });
      expect(await other.cancel({ id: created!.id, reason: "r", now: T0 })).toBe("cancelled");
      await rec.untilFinished([created!.id]);
      await unsubscribe();
    }
  });

  it("a NOTIFY sent by hand on the schema's channel reaches the listener (channels are per schema)", async () => {
    const watcher = await fx.open({ pollIntervalMs: 0 });
    const rec = new Recorder();
    await watcher.subscribe(rec);
    await withClient((c) => c.query("SELECT pg_notify($1, '41,42')", [`${fx.db.schema}_finished`]));
    await withClient((c) => c.query("SELECT pg_notify($1, '')", [`${fx.db.schema}x_available`]));
    await rec.untilFinished(["41", "42"]);
    await withClient((c) => c.query("SELECT pg_notify($1, '')", [`${fx.db.schema}_available`]));
    await rec.untilAvailable(1);
    expect(rec.available).toBe(1);
  });

  it("the polling backstop fires onAvailable without any notification", async () => {
    const store = await fx.open({ pollIntervalMs: 20 });
    const rec = new Recorder();
    await store.subscribe(rec);
    await rec.untilAvailable(3);
  });
});
