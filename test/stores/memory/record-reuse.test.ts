import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../../src/stores/memory/memory-store.js";
import { makeJob } from "../../support/job-factory.js";

const W = "worker-1";
const names = new Map([["t", 10]]);

async function store(maxCount: number): Promise<MemoryStore> {
  const s = new MemoryStore();
  await s.init();
  await s.configure({ retention: { maxAgeMs: 3_600_000, maxCount }, groups: new Map() });
  return s;
}

describe("memory store: records forgotten by retention", () => {
  it("lend nothing of their past to the jobs that start after them", async () => {
    const s = await store(1);
    const [a] = await s.enqueue({ jobs: [makeJob(1000)], now: 1000, maxQueued: null });
    // job a: fails once, reports progress and a checkpoint, is cancelled while running
    let { jobs } = await s.claim({ workerId: W, limit: 1, names, leaseMs: 30_000, now: 1001 });
    const failure = { name: "Error", message: "boom" };
    await s.settle({
      workerId: W,
      now: 1002,
      settlements: [{ id: a!.id, attempt: 1, outcome: { kind: "retry", error: failure, runAt: 1002 } }],
    });
    ({ jobs } = await s.claim({ workerId: W, limit: 1, names, leaseMs: 30_000, now: 1003 }));
    expect(jobs[0]!.id).toBe(a!.id);
    await s.heartbeat({
      workerId: W,
      leaseMs: 30_000,
      now: 1004,
      entries: [{ id: a!.id, attempt: 2, progress: { pct: 50 }, checkpoint: { step: 7 } }],
    });
    await s.cancel({ id: a!.id, reason: "enough", now: 1005 });
    await s.settle({
      workerId: W,
      now: 1006,
      settlements: [{ id: a!.id, attempt: 2, outcome: { kind: "completed", resultJson: "1" } }],
    });
    expect((await s.get(a!.id))?.state).toBe("cancelled");

    // job b finishes: retention (1 job) forgets a
    const [b] = await s.enqueue({ jobs: [makeJob(2000)], now: 2000, maxQueued: null });
    await s.claim({ workerId: W, limit: 1, names, leaseMs: 30_000, now: 2001 });
    await s.settle({
      workerId: W,
      now: 2002,
      settlements: [{ id: b!.id, attempt: 1, outcome: { kind: "completed", resultJson: '"b"' } }],
    });
    expect(await s.get(a!.id)).toBeNull();

    // job c starts after a was forgotten
    const [c] = await s.enqueue({ jobs: [makeJob(3000)], now: 3000, maxQueued: null });
    ({ jobs } = await s.claim({ workerId: W, limit: 1, names, leaseMs: 30_000, now: 3001 }));
    expect(jobs[0]).toMatchObject({ id: c!.id, attempt: 1, checkpoint: null });
    const running = await s.get(c!.id);
    expect(running).toMatchObject({
      state: "running",
      attempt: 1,
      error: null,
      errors: [],
      progress: null,
      checkpoint: null,
      result: undefined,
      startedAt: 3001,
      finishedAt: null,
      lastProgressAt: null,
      leaseOwner: W,
      leaseExpiresAt: 33_001,
      cancelRequested: false,
      cancelReason: null,
    });
    await s.settle({
      workerId: W,
      now: 3002,
      settlements: [{ id: c!.id, attempt: 1, outcome: { kind: "completed", resultJson: '"c"' } }],
    });
    expect(await s.get(c!.id)).toMatchObject({ state: "completed", result: "c", error: null, finishedAt: 3002 });
  });

  it("keep createdAt when a retry moves runAt", async () => {
    const s = await store(10);
    const [delayed] = await s.enqueue({ jobs: [makeJob(100, { runAt: 600 })], now: 100, maxQueued: null });
    expect(await s.get(delayed!.id)).toMatchObject({ createdAt: 100, runAt: 600 });
    const [now] = await s.enqueue({ jobs: [makeJob(200)], now: 200, maxQueued: null });
    await s.claim({ workerId: W, limit: 1, names, leaseMs: 30_000, now: 201 });
    await s.settle({
      workerId: W,
      now: 202,
      settlements: [
        { id: now!.id, attempt: 1, outcome: { kind: "retry", error: { name: "E", message: "x" }, runAt: 900 } },
      ],
    });
    expect(await s.get(now!.id)).toMatchObject({ state: "queued", createdAt: 200, runAt: 900 });
  });
});
