/**
 * PostgreSQL floor vs PostgresStore, in a schema of its own (dropped at the end).
 *
 *   npx tsx bench/pg-floor.ts            (DATABASE_URL or postgres://postgres@127.0.0.1:5432/test)
 *
 * (a) floor: the machine's best case with raw pg — INSERT + NOTIFY in one
 *     statement, LISTEN on another connection, then a SKIP LOCKED claim on a
 *     third; latency from submit to claimed, 1000 jobs one by one at ~200/s.
 * (b) store latency: the same round trip through PostgresStore
 *     (enqueue → onAvailable → claim).
 * (c) store throughput: enqueue 20k jobs, then claim + settle in batches of
 *     500, with 1 and with 4 concurrent workers.
 * Prints one JSON line per measurement.
 */
import { performance } from "node:perf_hooks";
import pg from "pg";
import type { EnqueueJob } from "../src/store/port.js";
import { PostgresStore } from "../src/stores/postgres/index.js";

const URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA = `optiq_bench_${process.pid}`;
const LATENCY_JOBS = 1000;
const RATE_PER_S = 200;
const THROUGHPUT_JOBS = 20_000;
const BATCH = 500;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function summary(latencies: number[]): { p50: number; p90: number; p99: number; max: number } {
  const s = [...latencies].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { p50: r(percentile(s, 50)), p90: r(percentile(s, 90)), p99: r(percentile(s, 99)), max: r(s[s.length - 1]!) };
}

/** Calls `submit(i)` `count` times at `perSecond`, on schedule (drift-corrected). */
async function paced(count: number, perSecond: number, submit: (i: number) => Promise<void>): Promise<void> {
  const interval = 1000 / perSecond;
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await submit(i);
  }
}

function job(now: number, i = 0): EnqueueJob {
  return {
    name: "bench",
    inputJson: `{"i":${i}}`,
    priority: 0,
    runAt: now,
    maxAttempts: 3,
    timeoutMs: null,
    backoff: { type: "fixed", delayMs: 1000, jitter: false },
    key: null,
    group: null,
  };
}

async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: URL });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

async function floor(): Promise<void> {
  const [producer, listener, worker] = await Promise.all([connect(), connect(), connect()]);
  const t = `"${SCHEMA}".floor_jobs`;
  await producer.query(
    `CREATE TABLE ${t} (id bigserial PRIMARY KEY, payload text NOT NULL, claimed boolean NOT NULL DEFAULT false)`,
  );
  await producer.query(`CREATE INDEX ON ${t} (id) WHERE NOT claimed`);
  const channel = `${SCHEMA}_floor`;
  // keyed by the payload (the claim may come back before the INSERT's own reply does)
  const submitted = new Map<string, number>();
  const latencies: number[] = [];
  let claiming = Promise.resolve();
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const claimOne = async (): Promise<void> => {
    const { rows } = await worker.query<{ payload: string }>({
      name: "floor_claim",
      text: `UPDATE ${t} SET claimed = true WHERE id = (
               SELECT id FROM ${t} WHERE NOT claimed ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING payload`,
    });
    const at = performance.now();
    for (const r of rows) {
      latencies.push(at - submitted.get(r.payload)!);
      if (latencies.length === LATENCY_JOBS) done();
    }
  };
  listener.on("notification", () => {
    claiming = claiming.then(claimOne);
  });
  await listener.query(`LISTEN "${channel}"`);
  await paced(LATENCY_JOBS, RATE_PER_S, async (i) => {
    const payload = `{"i":${i}}`;
    submitted.set(payload, performance.now());
    await producer.query({
      name: "floor_submit",
      text: `WITH i AS (INSERT INTO ${t} (payload) VALUES ($1) RETURNING id)
             SELECT pg_notify('${channel}', id::text) FROM i`,
      values: [payload],
    });
  });
  await finished;
  console.log(
    JSON.stringify({
      bench: "floor",
      what: "INSERT+NOTIFY -> LISTEN -> claim (raw pg)",
      jobs: LATENCY_JOBS,
      ratePerS: RATE_PER_S,
      ms: summary(latencies),
    }),
  );
  await Promise.all([producer.end(), listener.end(), worker.end()]);
}

async function storeLatency(): Promise<void> {
  const producer = new PostgresStore({ connectionString: URL, schema: SCHEMA, poolSize: 2, pollIntervalMs: 0 });
  const worker = new PostgresStore({ connectionString: URL, schema: SCHEMA, poolSize: 2, pollIntervalMs: 0 });
  await Promise.all([producer.init(), worker.init()]);
  const submitted = new Map<number, number>();
  const latencies: number[] = [];
  let claiming = Promise.resolve();
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const names = new Map([["bench", 10]]);
  const claimSome = async (): Promise<void> => {
    const { jobs } = await worker.claim({ workerId: "w", limit: 10, names, leaseMs: 30_000, now: Date.now() });
    const at = performance.now();
    for (const j of jobs) {
      latencies.push(at - submitted.get((j.input as { i: number }).i)!);
      if (latencies.length === LATENCY_JOBS) done();
    }
  };
  const unsubscribe = await worker.subscribe({
    onAvailable: () => {
      claiming = claiming.then(claimSome);
    },
  });
  await paced(LATENCY_JOBS, RATE_PER_S, async (i) => {
    submitted.set(i, performance.now());
    await producer.enqueue({ jobs: [job(Date.now(), i)], now: Date.now(), maxQueued: null });
  });
  await finished;
  console.log(
    JSON.stringify({
      bench: "store-latency",
      what: "enqueue -> onAvailable -> claim (PostgresStore)",
      jobs: LATENCY_JOBS,
      ratePerS: RATE_PER_S,
      ms: summary(latencies),
    }),
  );
  await unsubscribe();
  await Promise.all([producer.close(), worker.close()]);
}

async function storeThroughput(workers: number): Promise<void> {
  const store = new PostgresStore({ connectionString: URL, schema: SCHEMA, poolSize: workers + 1, pollIntervalMs: 0 });
  await store.init();
  const now = Date.now();
  const jobs = Array.from({ length: THROUGHPUT_JOBS }, () => job(now));
  let t = performance.now();
  for (let i = 0; i < jobs.length; i += 1000) {
    await store.enqueue({ jobs: jobs.slice(i, i + 1000), now, maxQueued: null });
  }
  const enqueueMs = performance.now() - t;
  const names = new Map([["bench", BATCH]]);
  let processed = 0;
  t = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (;;) {
        const { jobs: claimed } = await store.claim({ workerId: `w${w}`, limit: BATCH, names, leaseMs: 30_000, now });
        if (claimed.length === 0) return;
        await store.settle({
          workerId: `w${w}`,
          settlements: claimed.map((j) => ({
            id: j.id,
            attempt: j.attempt,
            outcome: { kind: "completed", resultJson: "null" },
          })),
          now,
        });
        processed += claimed.length;
      }
    }),
  );
  const runMs = performance.now() - t;
  console.log(
    JSON.stringify({
      bench: "store-throughput",
      jobs: processed,
      workers,
      batch: BATCH,
      enqueuePerS: Math.round(THROUGHPUT_JOBS / (enqueueMs / 1000)),
      claimSettlePerS: Math.round(processed / (runMs / 1000)),
      claimSettleMs: Math.round(runMs),
    }),
  );
  await store.prune(now + 1e12); // leave the table empty for the next round
  await store.close();
}

const admin = await connect();
try {
  await admin.query(`CREATE SCHEMA "${SCHEMA}"`);
  await floor();
  await storeLatency();
  await storeThroughput(1);
  await storeThroughput(4);
} finally {
  await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
  await admin.end();
}
