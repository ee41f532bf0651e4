/**
 * The routes over a real socket, on a queue whose store is durable — a
 * SQLite file, a PostgreSQL schema: what the memory-store tests show holds
 * on every durable store too.
 */
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Optiq, type Store } from "../../src/index.js";
import { PostgresStore } from "../../src/postgres.js";
import { createServer } from "../../src/server/index.js";
import { SqliteStore } from "../../src/sqlite.js";
import { createTestSchema } from "../support/pg.js";
import { SseReader, deferred, listen } from "./helpers.js";

interface DurableStore {
  store: Store;
  /** Removes what the store left behind (after the queue stopped). */
  remove(): Promise<void>;
}

async function sqliteFile(): Promise<DurableStore> {
  const path = join(tmpdir(), `optiq-server-${process.pid}-${Math.random().toString(36).slice(2)}.db`);
  return {
    store: new SqliteStore({ path, pollIntervalMs: 20 }),
    remove: async () => {
      for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
    },
  };
}

async function postgresSchema(): Promise<DurableStore> {
  const { schema, connectionString, drop } = await createTestSchema();
  return { store: new PostgresStore({ connectionString, schema }), remove: drop };
}

/** The fields these tests read from the answers of several routes. */
interface Answer {
  status: number;
  json: {
    id: string;
    jobs: { id: string }[];
    error: { code: string; field: string };
    counts: Record<string, number>;
  };
}

describe.each([
  ["a SQLite file", sqliteFile],
  ["a PostgreSQL schema", postgresSchema],
])("the HTTP API on %s", (_label, open) => {
  let durable: DurableStore;
  let queue: Optiq;
  let server: FastifyInstance;
  let base: string;
  const release = deferred();

  beforeAll(async () => {
    durable = await open();
    queue = new Optiq({ store: durable.store, concurrency: 2 });
    queue.define("square", async (job) => (job.input as number) ** 2);
    queue.define("held", async () => {
      await release.promise;
      return "released";
    });
    queue.declare("elsewhere");
    await queue.start();
    server = await createServer({ queue, dashboard: false });
    base = await listen(server);
  });

  afterAll(async () => {
    await server.close();
    await queue.stop({ timeoutMs: 1000 });
    await durable.remove();
  });

  async function call(method: string, url: string, body?: unknown): Promise<Answer> {
    const res = await fetch(`${base}${url}`, {
      method,
      ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    });
    return { status: res.status, json: (await res.json()) as Answer["json"] };
  }

  it("submits, waits for the result, reads and lists the job", async () => {
    const submitted = await call("POST", "/api/jobs", { name: "square", input: 7, options: { key: "seven" } });
    expect(submitted.status).toBe(201);
    const { id } = submitted.json;
    expect(await call("GET", `/api/jobs/${id}/result?timeoutMs=10000`)).toEqual({
      status: 200,
      json: { id, result: 49 },
    });
    const again = await call("POST", "/api/jobs", { name: "square", input: 8, options: { key: "seven" } });
    expect(again).toEqual({ status: 200, json: { id, created: false } });
    const job = await call("GET", `/api/jobs/${id}`);
    expect(job.json).toMatchObject({ id, state: "completed", result: 49, input: 7 });
    const list = await call("GET", "/api/jobs?state=completed&limit=10");
    expect(list.json).toMatchObject({ jobs: [{ id }], next: null });
  });

  it("submits a batch all or none, and cancels queued and running jobs", async () => {
    const bad = await call("POST", "/api/jobs/batch", {
      jobs: [{ name: "elsewhere" }, { name: "elsewhere", options: { maxAttempts: 0 } }],
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.field).toBe("jobs[1].options.maxAttempts");
    expect((await queue.stats()).counts.queued).toBe(0);

    const batch = await call("POST", "/api/jobs/batch", { jobs: [{ name: "elsewhere" }, { name: "held" }] });
    expect(batch.status).toBe(201);
    const [queued, held] = batch.json.jobs;
    const stream = await fetch(`${base}/api/events`);
    const events = new SseReader(stream);
    await events.until((m) => m.event === "stats");
    const startedOrDone = (await queue.get(held!.id))?.state;
    expect(["queued", "running"]).toContain(startedOrDone);

    expect(await call("POST", `/api/jobs/${queued!.id}/cancel`, { reason: "not needed" })).toEqual({
      status: 200,
      json: { cancelled: true },
    });
    const cancelled = await events.until((m) => m.event === "cancelled");
    expect(cancelled.data).toMatchObject({ id: queued!.id, reason: "not needed" });
    const result = await call("GET", `/api/jobs/${queued!.id}/result`);
    expect(result.status).toBe(409);
    expect(result.json.error).toMatchObject({ code: "OPTIQ_JOB_CANCELLED", reason: "not needed" });

    if ((await queue.get(held!.id))?.state !== "running") {
      await events.until((m) => m.event === "started" && (m.data as { id: string }).id === held!.id);
    }
    expect((await call("POST", `/api/jobs/${held!.id}/cancel`)).json).toEqual({ cancelled: true });
    expect((await call("GET", `/api/jobs/${held!.id}/result`)).status).toBe(409);
    release.resolve();
    await events.cancel();
  });

  it("serves stats, health and metrics from the store's counts", async () => {
    const stats = await call("GET", "/api/stats");
    expect(stats.status).toBe(200);
    expect(stats.json.counts).toEqual(await queue.stats().then((s) => s.counts));
    expect((await call("GET", "/api/health")).status).toBe(200);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain(`optiq_jobs{state="completed"} ${stats.json.counts.completed}`);
    expect(text).toContain(`optiq_jobs{state="cancelled"} ${stats.json.counts.cancelled}`);
  });
});
