/**
 * health(): names jobs without progress, overdue and zombie handlers, a
 * stalled scheduler; liveness that does not depend on job length.
 */
import { describe, expect, it } from "vitest";
import { Optiq, type ClaimParams, type ClaimResult } from "../../src/index.js";
import { FakeClock, MemoryStore } from "../../src/testing.js";

describe("health", () => {
  it("is healthy when idle, and names a running job without progress for stuckAfterMs", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock, stuckAfterMs: 60_000 });
    let release!: () => void;
    q.define("quiet", (_job, ctx) => {
      ctx.progress(0.1);
      return new Promise<void>((r) => (release = r));
    });
    await q.start();
    expect(await q.health()).toMatchObject({ status: "healthy", issues: [] });
    const { id } = await q.submit("quiet");
    await clock.advance(60_000);
    expect((await q.health()).status).toBe("healthy");
    await clock.advance(1);
    const health = await q.health();
    expect(health.status).toBe("degraded");
    expect(health.issues).toEqual([
      expect.objectContaining({ kind: "no-progress", jobId: id, name: "quiet", ageMs: 60_001 }),
    ]);
    release();
    await q.result(id);
    expect((await q.health()).status).toBe("healthy");
    await q.stop();
  });

  it("a name with onStuck: abort has its quiet attempts aborted (reason OPTIQ_JOB_STUCK) and retried", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock, leaseMs: 3000 });
    const reasons: string[] = [];
    q.define(
      "may-hang",
      (job, ctx) =>
        new Promise((resolve, reject) => {
          if (job.attempt === 2) return resolve("second try");
          ctx.progress("starting");
          ctx.signal.addEventListener("abort", () => {
            reasons.push((ctx.signal.reason as { code: string }).code);
            reject(ctx.signal.reason);
          });
        }),
      { stuckAfterMs: 5000, onStuck: "abort", backoff: { type: "fixed", delayMs: 0, jitter: false } },
    );
    await q.start();
    const { id } = await q.submit("may-hang");
    await clock.advance(5000);
    expect(reasons).toEqual([]); // not yet: exactly stuckAfterMs is not past it
    await clock.advance(1000); // the next heartbeat tick sees 6 s without progress
    expect(await q.result(id)).toBe("second try");
    expect(reasons).toEqual(["OPTIQ_JOB_STUCK"]);
    expect((await q.get(id))?.errors.map((e) => e.error.code)).toEqual(["OPTIQ_JOB_STUCK"]);
    await q.stop();
  });

  it("reports a stalled scheduler: queued work, free slots, nothing started", async () => {
    // a store whose claims find nothing: the original queue's symptom (workers never pick up jobs)
    class DeafStore extends MemoryStore {
      override claim(params: ClaimParams): Promise<ClaimResult> {
        void params;
        return Promise.resolve({ jobs: [], nextRunAt: null });
      }
    }
    const clock = new FakeClock();
    const q = new Optiq({ clock, store: new DeafStore(), stallAfterMs: 30_000 });
    q.define("job", async () => null);
    await q.start();
    await q.submit("job");
    await clock.advance(30_001);
    const health = await q.health();
    expect(health.status).toBe("degraded");
    expect(health.issues).toEqual([expect.objectContaining({ kind: "stalled" })]);
    expect(health.issues[0]?.message).toMatch(/1 job\(s\) queued and 10 slot\(s\) free/);
    await q.stop();
  });

  it("a delayed job is not a stall", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock, stallAfterMs: 1000 });
    q.define("job", async () => null);
    await q.start();
    await q.submit("job", null, { delayMs: 60_000 });
    await clock.advance(5000);
    expect((await q.health()).status).toBe("healthy");
    await q.stop();
  });

  it("a three-hour job whose worker heartbeats is never rescued; it completes on its first attempt", async () => {
    const clock = new FakeClock();
    const q = new Optiq({ clock, leaseMs: 30_000 });
    q.define("marathon", () => new Promise((r) => clock.setTimeout(() => r("finished"), 3 * 3600_000)));
    await q.start();
    const { id } = await q.submit("marathon");
    for (let minute = 0; minute < 180; minute++) await clock.advance(60_000);
    expect(await q.result(id)).toBe("finished");
    const job = await q.get(id);
    expect(job).toMatchObject({ state: "completed", attempt: 1, errors: [] });
    await q.stop();
  });
});
