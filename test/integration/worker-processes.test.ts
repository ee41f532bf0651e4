/**
 * Real worker processes on the durable stores: kill -9 in the middle of a
 * job, a whole-app restart with work queued, checkpoint/resume, and (on
 * PostgreSQL) connections terminated mid-run and a fleet of four workers.
 * The test process is a producer only: it submits, awaits and inspects.
 */
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Optiq, type Store } from "../../src/index.js";
import { PostgresStore } from "../../src/postgres.js";
import { SqliteStore } from "../../src/sqlite.js";
import { createTestSchema, TEST_DATABASE_URL, withClient } from "../support/pg.js";
import { doneCountsOf, startWorker, stopAll, type WorkerProcess } from "../support/processes.js";

interface Target {
  env: Record<string, string>;
  open: () => Store;
  cleanup: () => Promise<void>;
}

const targets: Record<string, () => Promise<Target>> = {
  sqlite: async () => {
    const path = join(tmpdir(), `optiq-proc-${process.pid}-${Math.random().toString(36).slice(2)}.db`);
    return {
      env: { OPTIQ_STORE: `sqlite:${path}` },
      open: () => new SqliteStore({ path, pollIntervalMs: 20 }),
      cleanup: async () => {
        for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
      },
    };
  },
  postgres: async () => {
    const { schema, drop } = await createTestSchema();
    return {
      env: { OPTIQ_STORE: `pg:${schema}`, DATABASE_URL: TEST_DATABASE_URL },
      open: () => new PostgresStore({ connectionString: TEST_DATABASE_URL, schema, pollIntervalMs: 200 }),
      cleanup: drop,
    };
  },
};

describe.each(Object.keys(targets))("worker processes on %s", (kind) => {
  let target: Target;
  let producer: Optiq;
  const workers: WorkerProcess[] = [];
  const spawnWorker = (env: Record<string, string> = {}) => {
    const w = startWorker({ ...target.env, ...env });
    workers.push(w);
    return w;
  };

  beforeEach(async () => {
    target = await targets[kind]!();
    producer = new Optiq({ store: target.open(), pollIntervalMs: 100 });
    producer.declare("work").declare("trials");
  });

  afterEach(async () => {
    await stopAll(workers.splice(0));
    await producer.stop();
    await target.cleanup();
  });

  it("kill -9 in the middle of a job: the job is rescued and completes exactly once", async () => {
    const a = spawnWorker({ LEASE_MS: "1000" });
    await a.waitFor(/^ready$/);
    const { id } = await producer.submit("trials", { trials: 3, msPerTrial: 10, pauseAt: 1 });
    await a.waitFor(new RegExp(`^checkpoint ${id} 1$`));
    a.child.kill("SIGKILL");
    const b = spawnWorker({ LEASE_MS: "1000" });
    expect(await producer.result(id, { timeoutMs: 30_000 })).toEqual({ trials: 3, sum: 1 + 4 + 9 });
    expect((await doneCountsOf(workers, [id])).get(id)).toBe(1);
    expect(b.lines).toContain(`done ${id} 2`);
    const job = await producer.get(id);
    expect(job?.attempt).toBe(2);
    expect(job?.errors.map((e) => e.error.code)).toEqual(["OPTIQ_LEASE_LOST"]);
  });

  it("a hung worker (SIGSTOP) is rescued within its lease; when it wakes, its late completion is refused", async () => {
    const a = spawnWorker({ LEASE_MS: "1000" });
    await a.waitFor(/^ready$/);
    const { id } = await producer.submit("work", { ms: 500 });
    await a.waitFor(new RegExp(`^started ${id} 1$`));
    a.child.kill("SIGSTOP"); // alive but frozen: no heartbeats, no progress
    const b = spawnWorker({ LEASE_MS: "1000" });
    expect(await producer.result(id, { timeoutMs: 30_000 })).toMatchObject({ by: b.child.pid });
    a.child.kill("SIGCONT"); // its handler finishes now, but the lease is gone
    await a.waitFor(new RegExp(`^done ${id} 1$`));
    await b.waitFor(new RegExp(`^done ${id} 2$`));
    const job = await producer.get(id);
    expect(job).toMatchObject({ state: "completed", attempt: 2, result: { by: b.child.pid } });
    expect(job?.errors.map((e) => e.error.code)).toEqual(["OPTIQ_LEASE_LOST"]);
  });

  it("checkpoint and resume: killed at trial 60 of 100, the rescued attempt starts at 60 and ends with the uninterrupted result", async () => {
    const a = spawnWorker({ LEASE_MS: "1000" });
    await a.waitFor(/^ready$/);
    const { id } = await producer.submit("trials", { trials: 100, msPerTrial: 2, pauseAt: 60 });
    await a.waitFor(new RegExp(`^checkpoint ${id} 60$`));
    await expect
      .poll(async () => (await producer.get(id))?.checkpoint, { timeout: 10_000 })
      .toEqual({ trial: 60, sum: sumOfSquares(60) });
    a.child.kill("SIGKILL");
    const b = spawnWorker({ LEASE_MS: "1000" });
    const result = await producer.result(id, { timeoutMs: 30_000 });
    expect(b.lines).toContain(`started ${id} 2 from 60`);
    expect(result).toEqual({ trials: 100, sum: sumOfSquares(100) });
  });

  it("1000 jobs queued, the app stopped and started again: all 1000 complete, each once", async () => {
    const subs = await producer.submitMany(
      Array.from({ length: 1000 }, (_, i) => ({ name: "work", input: { ms: 2, i } })),
    );
    const a = spawnWorker({ WORKER_CONCURRENCY: "20" });
    await a.waitFor(/^done /);
    a.child.kill("SIGTERM"); // graceful: running jobs finish, queued ones stay queued
    expect((await a.exited).code).toBe(0);
    const remaining = (await producer.store.counts()).queued;
    expect(remaining).toBeGreaterThan(0);
    spawnWorker({ WORKER_CONCURRENCY: "20" });
    await Promise.all(subs.map((s) => producer.result(s.id, { timeoutMs: 60_000 })));
    const done = await doneCountsOf(
      workers,
      subs.map((s) => s.id),
    );
    expect(done.size).toBe(1000);
    expect([...done.values()].every((n) => n === 1)).toBe(true);
    expect(await producer.store.counts()).toMatchObject({ queued: 0, running: 0, completed: 1000 });
  });

  if (kind === "postgres") {
    it("PostgreSQL connections terminated mid-run: every job still completes exactly once", async () => {
      const subs = await producer.submitMany(
        Array.from({ length: 2000 }, (_, i) => ({ name: "work", input: { ms: 3, i } })),
      );
      const ws = [spawnWorker({ WORKER_CONCURRENCY: "20" }), spawnWorker({ WORKER_CONCURRENCY: "20" })];
      await Promise.all(ws.map((w) => w.waitFor(/^done /)));
      let terminated = 0;
      for (let round = 0; round < 3; round++) {
        terminated += await withClient(async (c) => {
          const r = await c.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`,
            [`optiq-it-${target.env.OPTIQ_STORE!.slice("pg:".length)}`.slice(0, 63)],
          );
          return r.rowCount ?? 0;
        });
        await ws[round % 2]!.waitFor(new RegExp(`^done `)); // let them make progress between rounds
      }
      expect(terminated).toBeGreaterThan(0);
      await Promise.all(subs.map((s) => producer.result(s.id, { timeoutMs: 90_000 })));
      const done = await doneCountsOf(
        workers,
        subs.map((s) => s.id),
      );
      expect(done.size).toBe(2000);
      expect([...done.values()].filter((n) => n !== 1)).toEqual([]);
      for (const w of ws) {
        expect(w.child.exitCode).toBeNull(); // no unhandled error killed a worker
        expect(w.stderr()).not.toMatch(/Unhandled|uncaught/i);
      }
    });

    it("four worker processes, 20,000 jobs: each completed exactly once, none lost", async () => {
      const ws = Array.from({ length: 4 }, () => spawnWorker({ WORKER_CONCURRENCY: "50" }));
      await Promise.all(ws.map((w) => w.waitFor(/^ready$/)));
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const subs = await producer.submitMany(
          Array.from({ length: 1000 }, (_, j) => ({ name: "work", input: { i: i * 1000 + j } })),
        );
        ids.push(...subs.map((s) => s.id));
      }
      await Promise.all(ids.map((id) => producer.result(id, { timeoutMs: 120_000 })));
      const done = await doneCountsOf(workers, ids);
      expect(done.size).toBe(20_000);
      expect([...done.values()].filter((n) => n !== 1)).toEqual([]);
      expect(ws.every((w) => w.lines.some((l) => l.startsWith("done ")))).toBe(true); // the work was shared
      expect(await producer.store.counts()).toMatchObject({ queued: 0, running: 0, completed: 20_000 });
    }, 180_000);
  }
});

function sumOfSquares(n: number): number {
  return (n * (n + 1) * (2 * n + 1)) / 6;
}
