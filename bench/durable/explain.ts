/**
 * EXPLAIN (ANALYZE, BUFFERS) of optiq's PostgreSQL hot statements on a
 * realistic table: `jobs` queued jobs (default 20,000, as in noop-20k), a
 * claim of `limit` (default 50 = the noop case's concurrency), then the
 * settle of what it claimed. Each is run inside a transaction that is rolled
 * back, so the plans see the same table. Then times claim + settle and
 * claim alone, each committed (durably) `repeat` times; the table holds
 * 2 × repeat × limit extra jobs so those loops never run dry.
 *
 *   npx tsx bench/durable/explain.ts [jobs] [limit] [repeat]
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { PostgresStore } from "../../src/postgres.js";
import type { EnqueueJob } from "../../src/store/port.js";
import { channelsOf } from "../../src/stores/postgres/listener.js";
import { Sql } from "../../src/stores/postgres/sql.js";
import { dropSchema } from "./adapters.js";
import { NAME_PREFIX, PG_URL } from "./cases.js";

const JOBS = Number(process.argv[2] ?? 20_000);
const LIMIT = Number(process.argv[3] ?? 50);
const REPEAT = Number(process.argv[4] ?? 50);
const schema = `${NAME_PREFIX}explain_${randomBytes(3).toString("hex")}`;

const job: EnqueueJob = {
  name: "job",
  inputJson: '{"i":1}',
  priority: 0,
  runAt: 0,
  maxAttempts: 3,
  timeoutMs: null,
  backoff: { type: "exponential", baseMs: 1000, maxMs: 60_000, jitter: true },
  key: null,
  group: null,
};

function settleValues(ids: string[], attempts: number[], now: number): unknown[] {
  return [
    "bench",
    now,
    ids,
    attempts,
    ids.map(() => "completed"),
    ids.map(() => "null"),
    ids.map(() => null),
    ids.map(() => null),
    ids.map(() => null),
    ids.map(() => null),
    ids.map(() => null),
  ];
}

async function main(): Promise<void> {
  const store = new PostgresStore({ connectionString: PG_URL, schema });
  await store.init();
  const now = Date.now();
  const total = JOBS + 2 * REPEAT * LIMIT;
  for (let done = 0; done < total; done += 1000) {
    await store.enqueue({
      jobs: new Array<EnqueueJob>(Math.min(1000, total - done)).fill({ ...job, runAt: now }),
      now,
      maxQueued: null,
    });
  }
  await store.close();
  const sql = new Sql(schema, channelsOf(schema));
  const c = new pg.Client({ connectionString: PG_URL, application_name: "optiq-bench-explain" });
  await c.connect();
  try {
    await c.query(`VACUUM ANALYZE "${schema}".jobs`);
    const claimValues = [now, "bench", ["job"], [LIMIT], LIMIT, 30_000];
    await c.query("BEGIN");
    const plan = await c.query<{ "QUERY PLAN": string }>(
      `EXPLAIN (ANALYZE, BUFFERS, TIMING) ${sql.claimFast.text}`,
      claimValues,
    );
    console.log(`--- claim_fast, ${JOBS} queued, limit ${LIMIT}`);
    console.log(plan.rows.map((r) => r["QUERY PLAN"]).join("\n"));
    await c.query("ROLLBACK");

    await c.query("BEGIN");
    const claimed = await c.query<{ id: string; attempt: number }>(sql.claimFast.text, claimValues);
    const ids = claimed.rows.filter((r) => r.id !== null).map((r) => r.id);
    const attempts = claimed.rows.filter((r) => r.id !== null).map((r) => r.attempt);
    const splan = await c.query<{ "QUERY PLAN": string }>(
      `EXPLAIN (ANALYZE, BUFFERS, TIMING) ${sql.settle.text}`,
      settleValues(ids, attempts, now),
    );
    console.log(`--- settle of ${ids.length} completions`);
    console.log(splan.rows.map((r) => r["QUERY PLAN"]).join("\n"));
    await c.query("ROLLBACK");

    // each statement alone, committed (durably), as the worker runs them
    const time = async (label: string, fn: () => Promise<unknown>): Promise<void> => {
      const xs: number[] = [];
      for (let i = 0; i < REPEAT; i++) {
        const t = performance.now();
        await fn();
        xs.push(performance.now() - t);
      }
      xs.sort((a, b) => a - b);
      const p = (q: number): string => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!.toFixed(2);
      console.log(`${label}: p50 ${p(0.5)} ms, p90 ${p(0.9)} ms, max ${p(1)} ms (${REPEAT} runs, autocommit)`);
    };
    await time("SELECT 1 (network round trip)", () => c.query({ name: "one", text: "SELECT 1" }));
    await time(`claim_fast limit ${LIMIT} + settle (two commits)`, async () => {
      const r = await c.query<{ id: string | null; attempt: number }>({ ...sql.claimFast, values: claimValues });
      const rows = r.rows.filter((x) => x.id !== null);
      await c.query({
        ...sql.settle,
        values: settleValues(
          rows.map((x) => x.id!),
          rows.map((x) => x.attempt),
          now,
        ),
      });
    });
    await time(`claim_fast limit ${LIMIT} alone`, () => c.query({ ...sql.claimFast, values: claimValues }));
  } finally {
    await c.end();
    await dropSchema(schema);
  }
}

await main();
