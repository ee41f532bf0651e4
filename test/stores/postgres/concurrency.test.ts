import { describe, expect, it } from "vitest";
import { QueueFullError } from "../../../src/core/errors.js";
import type { ClaimedJob } from "../../../src/store/port.js";
import type { PostgresStore } from "../../../src/stores/postgres/index.js";
import { makeJob, makeJobs } from "../../support/job-factory.js";
import { withClient } from "../../support/pg.js";
import { LEASE_MS, T0, useSchema } from "./fixtures.js";

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  Plans?: PlanNode[];
}

function flatten(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(flatten)];
}

const done = { kind: "completed", resultJson: "null" } as const;

function claimBatch(
  store: PostgresStore,
  workerId: string,
  now: number,
  limit: number,
  names: Record<string, number> = { t: limit },
) {
  return store.claim({ workerId, limit, names: new Map(Object.entries(names)), leaseMs: LEASE_MS, now });
}

describe("PostgresStore: several instances on one schema", () => {
  const fx = useSchema();

  it("four stores (four pools) claiming 2000 jobs in parallel batches of 50 never get the same job", async () => {
    const stores = await Promise.all([fx.open(), fx.open(), fx.open(), fx.open()]);
    const created = await stores[0]!.enqueue({ jobs: makeJobs(2000, T0), now: T0, maxQueued: null });
    expect(new Set(created.map((r) => r.id)).size).toBe(2000);

    const claimedBy = new Map<string, string>();
    const duplicates: string[] = [];
    await Promise.all(
      stores.flatMap((store, s) =>
        // two claim loops per store, so every pool has concurrent claims in flight too
        [0, 1].map(async (loop) => {
          const worker = `w${s}.${loop}`;
          for (;;) {
            const { jobs } = await claimBatch(store, worker, T0 + 1, 50);
            if (jobs.length === 0) return;
            for (const j of jobs) {
              if (claimedBy.has(j.id)) duplicates.push(j.id);
              claimedBy.set(j.id, worker);
            }
            const results = await store.settle({
              workerId: worker,
              settlements: jobs.map((j) => ({ id: j.id, attempt: j.attempt, outcome: done })),
              now: T0 + 2,
            });
            expect(results.every((r) => r.applied && r.state === "completed")).toBe(true);
          }
        }),
      ),
    );
    expect(duplicates).toEqual([]);
    expect(claimedBy.size).toBe(2000);
    // the work was really shared
    expect(new Set(claimedBy.values()).size).toBeGreaterThan(1);
    expect(await stores[1]!.counts()).toEqual({ queued: 0, running: 0, completed: 2000, failed: 0, cancelled: 0 });
  });

  it("holds a group's concurrency limit fleet-wide while stores claim and settle concurrently", async () => {
    const stores = await Promise.all([fx.open(), fx.open(), fx.open()]);
    const limits = { groups: new Map([["g", { concurrency: 3 }]]), retention: { maxAgeMs: 1e12, maxCount: 1e9 } };
    await Promise.all(stores.map((s) => s.configure(limits)));
    await stores[0]!.enqueue({
      jobs: [...makeJobs(60, T0, { group: "g" }), ...makeJobs(30, T0)],
      now: T0,
      maxQueued: null,
    });

    // what the workers hold: a job leaves the set before its settle is sent, so the set never
    // overstates what the database holds
    const running = new Set<string>();
    let maxRunning = 0;
    let ungrouped = 0;
    let grouped = 0;
    let finished = false;
    // and what the database says, sampled throughout
    let maxInDb = 0;
    const sampler = withClient(async (c) => {
      while (!finished) {
        const { rows } = await c.query<{ n: string }>(
          `SELECT count(*) AS n FROM "${fx.db.schema}".jobs WHERE state = 'running' AND group_name = 'g'`,
        );
        maxInDb = Math.max(maxInDb, Number(rows[0]!.n));
      }
    });
    await Promise.all(
      stores.flatMap((store, s) =>
        [0, 1].map(async (loop) => {
          const worker = `w${s}.${loop}`;
          for (let round = 0; round < 500; round++) {
            const { jobs } = await claimBatch(store, worker, T0 + 1, 4);
            const mine = jobs.filter((j) => j.group === "g");
            ungrouped += jobs.length - mine.length;
            for (const j of mine) running.add(j.id);
            maxRunning = Math.max(maxRunning, running.size);
            if (jobs.length === 0) {
              if (grouped === 60 && ungrouped === 30) return;
              continue;
            }
            for (const j of mine) running.delete(j.id);
            grouped += mine.length;
            await store.settle({
              workerId: worker,
              settlements: jobs.map((j) => ({ id: j.id, attempt: j.attempt, outcome: done })),
              now: T0 + 2,
            });
          }
          throw new Error("claim loop did not finish");
        }),
      ),
    ).finally(() => {
      finished = true;
    });
    await sampler;
    expect(maxInDb).toBeLessThanOrEqual(3);
    expect(maxRunning).toBeLessThanOrEqual(3);
    expect(maxRunning).toBeGreaterThan(0);
    expect(grouped).toBe(60);
    expect(ungrouped).toBe(30);
  });

  it("holds a group's rate limit fleet-wide: concurrent claimers at the same instant get `limit` jobs in total", async () => {
    const stores = await Promise.all([fx.open(), fx.open(), fx.open(), fx.open()]);
    const limits = {
      groups: new Map([["g", { rateLimit: { limit: 5, intervalMs: 1000 } }]]),
      retention: { maxAgeMs: 1e12, maxCount: 1e9 },
    };
    await Promise.all(stores.map((s) => s.configure(limits)));
    await stores[0]!.enqueue({ jobs: makeJobs(40, T0, { group: "g" }), now: T0, maxQueued: null });

    const claimAll = async (now: number): Promise<ClaimedJob[]> => {
      const results = await Promise.all(stores.map((s, i) => claimBatch(s, `w${i}`, now, 10)));
      for (const r of results) {
        if (r.jobs.length < 10) expect(r.nextRunAt).not.toBeNull();
      }
      return results.flatMap((r) => r.jobs);
    };
    expect(await claimAll(T0)).toHaveLength(5);
    expect(await claimAll(T0 + 999)).toHaveLength(0);
    expect(await claimAll(T0 + 1000)).toHaveLength(5);
    expect(await claimAll(T0 + 1500)).toHaveLength(0);
    expect(await claimAll(T0 + 2000)).toHaveLength(5);
  });

  it("enforces maxQueued across stores enqueuing at once", async () => {
    const stores = await Promise.all([fx.open(), fx.open(), fx.open()]);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) => stores[i % 3]!.enqueue({ jobs: [makeJob(T0)], now: T0, maxQueued: 25 })),
    );
    const accepted = outcomes.filter((o) => o.status === "fulfilled");
    const rejected = outcomes.filter((o) => o.status === "rejected");
    expect(accepted).toHaveLength(25);
    for (const r of rejected) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(QueueFullError);
    expect((await stores[0]!.counts()).queued).toBe(25);
  });

  it("creates one job per key under concurrent enqueues from many stores and transactions", async () => {
    const stores = await Promise.all([fx.open(), fx.open(), fx.open(), fx.open()]);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        stores[i % 4]!.enqueue({
          jobs: [makeJob(T0, { key: `k${i % 5}` }), makeJob(T0, { key: "shared" })],
          now: T0,
          maxQueued: null,
        }),
      ),
    );
    const byKey = new Map<string, Set<string>>();
    let createdCount = 0;
    results.forEach((pair, i) => {
      pair.forEach((r, j) => {
        const key = j === 0 ? `k${i % 5}` : "shared";
        if (!byKey.has(key)) byKey.set(key, new Set());
        byKey.get(key)!.add(r.id);
        if (r.created) createdCount++;
      });
    });
    expect(createdCount).toBe(6);
    for (const ids of byKey.values()) expect(ids.size).toBe(1);
    expect((await stores[0]!.counts()).queued).toBe(6);
  });

  it("a rescue in one store and a late settle in another: the job ends once", async () => {
    const [a, b] = await Promise.all([fx.open(), fx.open()]);
    const [created] = await a.enqueue({ jobs: [makeJob(T0, { maxAttempts: 1 })], now: T0, maxQueued: null });
    const id = created!.id;
    const [job] = (await claimBatch(a, "wa", T0, 1)).jobs;
    expect(job?.id).toBe(id);
    const [rescue, settle] = await Promise.all([
      b.rescueExpired({ now: T0 + LEASE_MS + 1, limit: 10 }),
      a.settle({ workerId: "wa", settlements: [{ id, attempt: 1, outcome: done }], now: T0 + LEASE_MS + 1 }),
    ]);
    const rescued = rescue.failed.includes(id);
    expect(rescued).toBe(!settle[0]!.applied);
    const final = await b.get(id);
    expect(final?.state).toBe(rescued ? "failed" : "completed");
    const counts = await b.counts();
    expect(counts.completed + counts.failed).toBe(1);
  });

  it.each(["claimUnlimited", "claimFast"] as const)(
    "claims without scanning finished jobs: %s reads partial indexes of the queued set only",
    async (statement) => {
      const store = await fx.open();
      const schema = `"${fx.db.schema}"`;
      await withClient(async (c) => {
        // 50k finished jobs and a few queued ones
        await c.query(
          `INSERT INTO ${schema}.jobs (name, state, input, max_attempts, backoff, created_at, run_at, finished_at)
         SELECT 't', 'completed', 'null', 1, '{}', $1::float8, $1::float8, $1::float8 + g FROM generate_series(1, 50000) g`,
          [T0],
        );
        await c.query(`ANALYZE ${schema}.jobs`);
      });
      await store.enqueue({ jobs: makeJobs(5, T0), now: T0, maxQueued: null });
      const plan = await withClient(async (c) => {
        await c.query("BEGIN");
        try {
          const { rows } = await c.query<{ "QUERY PLAN": unknown }>(
            `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${
              // the same statement the store prepares
              (store as unknown as { sql: Record<typeof statement, { text: string }> }).sql[statement].text
            }`,
            [T0 + 1, "w", ["t"], [10], 10, LEASE_MS],
          );
          return (rows[0]!["QUERY PLAN"] as { Plan: PlanNode }[])[0]!.Plan;
        } finally {
          await c.query("ROLLBACK");
        }
      });
      const nodes = flatten(plan);
      // only partial indexes over the queued set (plus the primary key for the update) are read
      const indexes = new Set(nodes.map((n) => n["Index Name"]).filter((n) => n !== undefined));
      for (const index of indexes)
        expect(["jobs_runnable", "jobs_queued_run_at", "jobs_queued_group", "jobs_pkey"]).toContain(index);
      expect(nodes.filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "jobs")).toEqual([]);
      // a handful of pages, not the ~50k finished rows' worth
      expect(plan["Shared Hit Blocks"]! + plan["Shared Read Blocks"]!).toBeLessThan(200);
      // counts() reads the counters, not the table
      expect((await store.counts()).completed).toBe(50_000);
    },
  );
});
