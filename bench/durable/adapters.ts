/**
 * One adapter per queue system, all driven the same way by child.ts: open a
 * fresh namespace (schema, SQLite file, Redis queue) with the handler
 * registered, enqueue in bulk or one by one, start the worker, wait until
 * `n` jobs are durably completed, close and drop the namespace.
 *
 * "Durably completed" is each system's own record of completion: optiq's
 * `completed` event (emitted after the settle is committed), BullMQ's
 * worker `completed` event (after moveToCompleted), and for graphile-worker
 * and pg-boss — whose completion writes trail the handler (batched, or not
 * awaited) — the database itself, polled once every handler has run.
 */
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Queue, Worker as BullWorker } from "bullmq";
import { Logger, makeWorkerUtils, run, type Runner, type WorkerUtils } from "graphile-worker";
import pg from "pg";
import PgBoss from "pg-boss";
import { Optiq, type Store, type SubmitManyItem } from "../../src/index.js";
import { PostgresStore } from "../../src/postgres.js";
import { SqliteStore } from "../../src/sqlite.js";
import { PG_URL, REDIS_HOST, REDIS_PORT, type SystemName } from "./cases.js";

export interface Input {
  i: number;
}

export type Handler = (input: Input) => unknown;

export interface Adapter {
  /** Fresh namespace, handler registered, producer ready; nothing is processed yet. */
  open(handler: Handler, concurrency: number): Promise<void>;
  /** One call of the system's bulk enqueue API. */
  enqueueMany(inputs: Input[]): Promise<void>;
  /** One call of the system's single submit API. */
  submit(input: Input): Promise<void>;
  /** Starts processing (the timed part of the throughput cases begins just before). */
  start(): Promise<void>;
  /** Resolves once `n` jobs are durably completed. */
  completed(n: number): Promise<void>;
  /** Stops the worker and drops the namespace. */
  close(): Promise<void>;
  /** Settings worth printing next to the numbers. */
  readonly settings: Record<string, number | string>;
}

/** graphile-worker: the batching settings of its performance page (worker.graphile.org/docs/performance). */
export const GRAPHILE_LOCAL_QUEUE = 500;
export const GRAPHILE_POLL_MS = 100;
/** pg-boss 10 accepts no polling interval under 0.5 s. */
export const PGBOSS_POLL_S = 0.5;

/** A countdown resolved when `count()` reaches the target set by `wait(n)`. */
class Counter {
  private n = 0;
  private target = Infinity;
  private resolve: (() => void) | null = null;
  private promise: Promise<void> | null = null;

  get value(): number {
    return this.n;
  }

  count(by = 1): void {
    this.n += by;
    if (this.n >= this.target && this.resolve) {
      this.resolve();
      this.resolve = null;
    }
  }

  wait(target: number): Promise<void> {
    this.target = target;
    if (this.n >= target) return Promise.resolve();
    this.promise ??= new Promise<void>((resolve) => (this.resolve = resolve));
    return this.promise;
  }
}

async function withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL, application_name: "optiq-bench-admin" });
  client.on("error", () => undefined); // a dropped connection fails the pending query instead
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function dropSchema(schema: string): Promise<void> {
  return withClient(async (c) => {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });
}

/**
 * Once every handler ran, polls `sql` (a count of jobs not yet completed)
 * every 2 ms on its own connection until it is 0.
 */
async function pollUntilZero(ran: Counter, n: number, sql: string): Promise<void> {
  await ran.wait(n);
  await withClient(async (c) => {
    for (;;) {
      const { rows } = await c.query<{ n: string }>(sql);
      if (Number(rows[0]?.n ?? 0) === 0) return;
      await sleep(2);
    }
  });
}

// ---------------------------------------------------------------------- optiq

/**
 * OPTIQ_BENCH_TRACE_STORE=1: times every claim and settle call of the store
 * (count, jobs per call, ms per call) into `settings`, for profiling.
 */
function traceStore(store: Store, into: Record<string, number | string>): void {
  for (const method of ["claim", "settle"] as const) {
    const original = store[method].bind(store) as (p: unknown) => Promise<unknown>;
    let calls = 0;
    let jobs = 0;
    let ms = 0;
    const each: number[] = [];
    (store as unknown as Record<string, unknown>)[method] = async (p: unknown): Promise<unknown> => {
      const t = performance.now();
      const out = await original(p);
      const took = performance.now() - t;
      ms += took;
      each.push(took);
      const half = Math.floor(each.length / 2);
      const mean = (xs: number[]): number =>
        Math.round((xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)) * 1000) / 1000;
      into[`${method}_ms_per_call_first_half`] = mean(each.slice(0, half));
      into[`${method}_ms_per_call_second_half`] = mean(each.slice(half));
      calls++;
      jobs += method === "claim" ? (out as { jobs: unknown[] }).jobs.length : (out as unknown[]).length;
      into[`${method}_calls`] = calls;
      into[`${method}_jobs_per_call`] = Math.round((jobs / calls) * 10) / 10;
      into[`${method}_ms_per_call`] = Math.round((ms / calls) * 1000) / 1000;
      into[`${method}_ms_total`] = Math.round(ms);
      return out;
    };
  }
}

function optiqAdapter(kind: "sqlite" | "postgres", ns: string): Adapter {
  const path = join(tmpdir(), `${ns}.db`);
  let q: Optiq | null = null;
  const done = new Counter();
  const settings: Record<string, number | string> =
    kind === "sqlite"
      ? { store: "SqliteStore", synchronous: "FULL (default)", journal: "WAL" }
      : {
          store: "PostgresStore",
          pool: "10 (default)",
          applicationName: "optiq-bench",
          pollIntervalMs: "1000 (default backstop; LISTEN/NOTIFY)",
        };
  return {
    settings,
    open(handler, concurrency) {
      const store =
        kind === "sqlite"
          ? // OPTIQ_BENCH_SQLITE_SYNC=NORMAL is a profiling knob (what fsync costs); the benchmark runs the default, FULL
            new SqliteStore({ path, synchronous: process.env.OPTIQ_BENCH_SQLITE_SYNC === "NORMAL" ? "NORMAL" : "FULL" })
          : new PostgresStore({ connectionString: PG_URL, schema: ns, applicationName: "optiq-bench" });
      if (process.env.OPTIQ_BENCH_TRACE_STORE === "1") traceStore(store, settings);
      q = new Optiq({ store, concurrency });
      q.define<Input>("job", (job) => handler(job.input));
      q.on("completed", () => done.count());
      // opens the store (and migrates) without starting the worker
      return q.stats().then(() => undefined);
    },
    async enqueueMany(inputs) {
      await q!.submitMany(inputs.map((input): SubmitManyItem => ({ name: "job", input })));
    },
    async submit(input) {
      await q!.submit("job", input);
    },
    start: () => q!.start(),
    completed: (n) => done.wait(n),
    async close() {
      await q?.stop({ timeoutMs: 5000 });
      if (kind === "sqlite") await Promise.all(["", "-wal", "-shm"].map((s) => rm(`${path}${s}`, { force: true })));
      else await dropSchema(ns);
    },
  };
}

// ------------------------------------------------------------ graphile-worker

function graphileAdapter(ns: string): Adapter {
  const logger = new Logger(() => () => undefined);
  let utils: WorkerUtils | null = null;
  let runner: Runner | null = null;
  let handle: Handler = () => undefined;
  let concurrency = 1;
  const ran = new Counter();
  const settings: Record<string, number | string> = {};
  return {
    settings,
    async open(handler, c) {
      handle = handler;
      concurrency = c;
      utils = await makeWorkerUtils({ connectionString: PG_URL, schema: ns, logger });
      await utils.migrate();
    },
    async enqueueMany(inputs) {
      await utils!.addJobs(inputs.map((payload) => ({ identifier: "job", payload })));
    },
    async submit(input) {
      await runner!.addJob("job", input);
    },
    async start() {
      // pool: one connection per job slot plus one is what the docs suggest; with the local queue and
      // batched completion only a few are ever busy, so it is capped below max_connections (100 here)
      const maxPoolSize = Math.min(concurrency + 1, 40);
      Object.assign(settings, {
        concurrency,
        "localQueue.size": GRAPHILE_LOCAL_QUEUE,
        completeJobBatchDelay: 0,
        failJobBatchDelay: 0,
        preparedStatements: "true",
        pollInterval: GRAPHILE_POLL_MS,
        maxPoolSize,
      });
      runner = await run({
        connectionString: PG_URL,
        schema: ns,
        concurrency,
        noHandleSignals: true,
        pollInterval: GRAPHILE_POLL_MS,
        logger,
        taskList: {
          job: async (payload) => {
            await handle(payload as Input);
            ran.count();
          },
        },
        preset: {
          worker: {
            maxPoolSize,
            preparedStatements: true,
            localQueue: { size: GRAPHILE_LOCAL_QUEUE },
            completeJobBatchDelay: 0,
            failJobBatchDelay: 0,
          },
        },
      });
    },
    // completed jobs are deleted from the table
    completed: (n) => pollUntilZero(ran, n, `SELECT count(*) AS n FROM "${ns}"._private_jobs`),
    async close() {
      await runner?.stop().catch(() => undefined);
      await utils?.release();
      await dropSchema(ns);
    },
  };
}

// -------------------------------------------------------------------- pg-boss

function pgBossAdapter(ns: string): Adapter {
  let boss: PgBoss | null = null;
  let handle: Handler = () => undefined;
  let concurrency = 1;
  const ran = new Counter();
  const settings: Record<string, number | string> = {};
  return {
    settings,
    async open(handler, c) {
      handle = handler;
      concurrency = c;
      boss = new PgBoss({ connectionString: PG_URL, schema: ns, application_name: "optiq-bench-pgboss" });
      boss.on("error", (err) => process.stderr.write(`pg-boss error: ${String(err)}\n`));
      await boss.start();
      await boss.createQueue("job");
    },
    async enqueueMany(inputs) {
      await boss!.insert(inputs.map((data) => ({ name: "job", data })));
    },
    async submit(input) {
      await boss!.send("job", input as unknown as object);
    },
    async start() {
      // pg-boss 10 has no teamSize: one worker fetching batchSize jobs per round trip, run together
      Object.assign(settings, { batchSize: concurrency, pollingIntervalSeconds: PGBOSS_POLL_S, workers: 1 });
      await boss!.work<Input>(
        "job",
        { batchSize: concurrency, pollingIntervalSeconds: PGBOSS_POLL_S },
        async (jobs) => {
          await Promise.all(
            jobs.map(async (j) => {
              await handle(j.data);
              ran.count();
            }),
          );
        },
      );
    },
    completed: (n) =>
      pollUntilZero(ran, n, `SELECT count(*) AS n FROM "${ns}".job WHERE name = 'job' AND state <> 'completed'`),
    async close() {
      await boss?.stop({ graceful: false, wait: true, timeout: 1000 }).catch(() => undefined);
      await dropSchema(ns);
    },
  };
}

// --------------------------------------------------------------------- BullMQ

function bullmqAdapter(ns: string): Adapter {
  const connection = { host: REDIS_HOST, port: REDIS_PORT, maxRetriesPerRequest: null };
  const name = ns.replaceAll("_", "-");
  let queue: Queue | null = null;
  let worker: BullWorker | null = null;
  const done = new Counter();
  const settings: Record<string, number | string> = {};
  return {
    settings,
    async open(handler, concurrency) {
      Object.assign(settings, { concurrency, queue: "unique per run, obliterated after" });
      queue = new Queue(name, { connection });
      worker = new BullWorker(name, (job) => Promise.resolve(handler(job.data as Input)), {
        connection,
        concurrency,
        autorun: false,
      });
      worker.on("completed", () => done.count());
      worker.on("error", (err) => process.stderr.write(`bullmq worker error: ${String(err)}\n`));
      await queue.waitUntilReady();
      await worker.waitUntilReady();
    },
    async enqueueMany(inputs) {
      await queue!.addBulk(inputs.map((data) => ({ name: "job", data })));
    },
    async submit(input) {
      await queue!.add("job", input);
    },
    start() {
      void worker!.run();
      return Promise.resolve();
    },
    completed: (n) => done.wait(n),
    async close() {
      await worker?.close(true).catch(() => undefined);
      if (queue) {
        await queue.obliterate({ force: true }).catch(() => undefined);
        await deleteKeys(await redisOf(queue), `bull:${name}:*`);
        await queue.close();
      }
    },
  };
}

/** The one method of ioredis (BullMQ's client) the bench uses beyond BullMQ's own API. */
export interface RedisCall {
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
}

export async function redisOf(queue: Queue): Promise<RedisCall> {
  return (await queue.client) as unknown as RedisCall;
}

/** Deletes every key matching `pattern` (SCAN + DEL, never FLUSHDB: the Redis may be shared). */
export async function deleteKeys(redis: RedisCall, pattern: string): Promise<number> {
  let cursor = "0";
  let removed = 0;
  do {
    const [next, keys] = (await redis.call("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)) as [string, string[]];
    cursor = next;
    if (keys.length > 0) removed += Number(await redis.call("DEL", ...keys));
  } while (cursor !== "0");
  return removed;
}

export function makeAdapter(system: Exclude<SystemName, "pg-floor">, ns: string): Adapter {
  switch (system) {
    case "optiq-sqlite":
      return optiqAdapter("sqlite", ns);
    case "optiq-postgres":
      return optiqAdapter("postgres", ns);
    case "graphile-worker":
      return graphileAdapter(ns);
    case "pg-boss":
      return pgBossAdapter(ns);
    case "bullmq":
      return bullmqAdapter(ns);
  }
}
