/** GET /api/stats, /api/health and /metrics: what stats() and health() say, as JSON and as Prometheus text. */
import { register as globalRegistry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { Optiq, type ClaimParams, type ClaimResult } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";
import { FakeClock, MemoryStore } from "../../src/testing.js";
import { capturingLogger } from "../support/helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(queue: Optiq, options: { token?: string } = {}) {
  await queue.start();
  const server = await createServer({ queue, dashboard: false, ...options });
  cleanups.push(async () => {
    await server.close();
    await queue.stop({ timeoutMs: 1000 });
  });
  return server;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition format: every sample, and the declared TYPE of every metric. */
function parseMetrics(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(m, `a sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const pair of (m![2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    const value = m![3] === "+Inf" ? Infinity : Number(m![3]);
    // prom-client's own event-loop gauges say NaN (spelt "Nan") before they have a sample; ours never do
    if (m![1]!.startsWith("optiq_")) expect(Number.isNaN(value), line).toBe(false);
    samples.push({ name: m![1]!, labels, value });
  }
  return { samples, types };
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe("GET /api/stats", () => {
  it("is stats()", async () => {
    const queue = new Optiq({ concurrency: 3 });
    queue.declare("later");
    const server = await setup(queue);
    await queue.submit("later", null);
    const res = await server.inject({ method: "GET", url: "/api/stats" });
    expect(res.statusCode).toBe(200);
    const stats = await queue.stats();
    expect(res.json()).toMatchObject({ counts: stats.counts, capacity: 3, running: 0, totals: stats.totals });
    expect(res.json().counts.queued).toBe(1);
  });
});

describe("GET /api/health", () => {
  it("is 200 with health() when healthy, 503 with the same body when degraded", async () => {
    // a store whose claims find nothing: queued work, free slots, nothing starts — a stalled scheduler
    class DeafStore extends MemoryStore {
      override claim(params: ClaimParams): Promise<ClaimResult> {
        void params;
        return Promise.resolve({ jobs: [], nextRunAt: null });
      }
    }
    const clock = new FakeClock();
    const queue = new Optiq({ clock, store: new DeafStore(), stallAfterMs: 30_000 });
    queue.define("job", async () => null);
    const server = await setup(queue);
    const healthy = await server.inject({ method: "GET", url: "/api/health" });
    expect(healthy.statusCode).toBe(200);
    expect(healthy.json()).toEqual({ status: "healthy", issues: [], running: true });
    await queue.submit("job");
    await clock.advance(30_001);
    const degraded = await server.inject({ method: "GET", url: "/api/health" });
    expect(degraded.statusCode).toBe(503);
    expect(degraded.json()).toMatchObject({ status: "degraded", issues: [{ kind: "stalled" }] });
    const metrics = parseMetrics((await server.inject({ method: "GET", url: "/metrics" })).body);
    expect(valueOf(metrics.samples, "optiq_healthy")).toBe(0);
  });
});

describe("unexpected failures", () => {
  it("are 500 OPTIQ_INTERNAL with a generic message; the error itself goes to the log", async () => {
    const queue = new Optiq();
    const logger = capturingLogger();
    await queue.start();
    queue.stats = () => Promise.reject(new Error("disk on fire at /var/lib/secret"));
    const server = await createServer({ queue, dashboard: false, logger });
    cleanups.push(async () => {
      await server.close();
      await queue.stop();
    });
    const res = await server.inject({ method: "GET", url: "/api/stats?x=1" });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ error: { code: "OPTIQ_INTERNAL", message: "internal server error" } });
    const [record] = logger.find("request failed", "error");
    expect(record?.obj).toMatchObject({ method: "GET", url: "/api/stats", err: expect.any(Error) });
    expect(logger.find("request completed", "info")[0]?.obj).toMatchObject({ url: "/api/stats", statusCode: 500 });
  });
});

describe("createServer options", () => {
  it.each([
    [{ maxEventStreams: -1 }, "options.maxEventStreams"],
    [{ maxResultWaitMs: "soon" }, "options.maxResultWaitMs"],
    // a zero cap would turn a client's long-poll into a busy loop of requests
    [{ maxResultWaitMs: 0 }, "options.maxResultWaitMs"],
    [{ statsIntervalMs: 0 }, "options.statsIntervalMs"],
    [{ bodyLimitBytes: 1.5 }, "options.bodyLimitBytes"],
    [{ token: "" }, "options.token"],
    // a header cannot carry these, so such a token would refuse every request
    [{ token: "my token" }, "options.token"],
    [{ token: "tök€n" }, "options.token"],
    [{ closeGraceMs: -1 }, "options.closeGraceMs"],
    [{ dashboard: "yes" }, "options.dashboard"],
    [{ queue: {} }, "options.queue"],
  ])("rejects %o naming %s", async (bad, field) => {
    const queue = new Optiq();
    await expect(createServer({ queue, ...(bad as object) })).rejects.toMatchObject({
      code: "OPTIQ_VALIDATION",
      field,
    });
  });
});

describe("GET /metrics", () => {
  it("serves Prometheus text whose values are stats(): totals as counters, counts per state as a gauge", async () => {
    const queue = new Optiq({ concurrency: 4 });
    queue.define("square", async (job) => (job.input as number) ** 2);
    const server = await setup(queue);
    for (let i = 1; i <= 3; i++) await queue.result((await queue.submit("square", i)).id);
    await expect(queue.submit("nope")).rejects.toThrow();
    const res = await server.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parseMetrics(res.body);
    expect(valueOf(samples, "optiq_jobs_completed_total")).toBe(3);
    expect(valueOf(samples, "optiq_jobs_submitted_total")).toBe(3);
    expect(valueOf(samples, "optiq_jobs_started_total")).toBe(3);
    expect(valueOf(samples, "optiq_jobs_rejected_total")).toBe(1);
    expect(valueOf(samples, "optiq_jobs_failed_total")).toBe(0);
    expect(valueOf(samples, "optiq_jobs", { state: "completed" })).toBe(3);
    expect(valueOf(samples, "optiq_jobs", { state: "queued" })).toBe(0);
    expect(valueOf(samples, "optiq_capacity")).toBe(4);
    expect(valueOf(samples, "optiq_running")).toBe(0);
    expect(valueOf(samples, "optiq_utilization")).toBe(0);
    expect(valueOf(samples, "optiq_healthy")).toBe(1);
    expect(valueOf(samples, "optiq_run_ms", { quantile: "0.5" })).toBeGreaterThanOrEqual(0);
    expect(valueOf(samples, "optiq_queue_wait_ms", { quantile: "0.95" })).toBeGreaterThanOrEqual(0);
    expect(valueOf(samples, "optiq_throughput_per_second")).toBeGreaterThan(0);
    for (const total of ["submitted", "started", "completed", "failed", "retried", "cancelled", "rejected"]) {
      expect(types.get(`optiq_jobs_${total}_total`), total).toBe("counter");
    }
    for (const gauge of ["optiq_jobs", "optiq_running", "optiq_capacity", "optiq_healthy", "optiq_run_ms"]) {
      expect(types.get(gauge), gauge).toBe("gauge");
    }
    expect(samples.some((s) => s.name.startsWith("process_"))).toBe(true);
    expect(samples.some((s) => s.name.startsWith("nodejs_"))).toBe(true);
  });

  it("each server has its own registry: two in one process, none in prom-client's global one", async () => {
    const a = new Optiq();
    const b = new Optiq();
    a.declare("x");
    const serverA = await setup(a);
    const serverB = await setup(b);
    await a.submit("x");
    const textA = (await serverA.inject({ method: "GET", url: "/metrics" })).body;
    const textB = (await serverB.inject({ method: "GET", url: "/metrics" })).body;
    expect(valueOf(parseMetrics(textA).samples, "optiq_jobs_submitted_total")).toBe(1);
    expect(valueOf(parseMetrics(textB).samples, "optiq_jobs_submitted_total")).toBe(0);
    expect(globalRegistry.getSingleMetric("optiq_jobs")).toBeUndefined();
    // the process's default metrics come once in each, from one registry the servers share
    for (const text of [textA, textB]) {
      expect(text.match(/^# TYPE process_cpu_user_seconds_total counter$/gm)).toHaveLength(1);
    }
  });

  it("concurrent scrapes each read one consistent snapshot", async () => {
    const queue = new Optiq();
    queue.declare("x");
    const server = await setup(queue);
    let statsReads = 0;
    const stats = queue.stats.bind(queue);
    queue.stats = () => {
      statsReads++;
      return stats();
    };
    await queue.submit("x");
    const texts = await Promise.all(
      [1, 2, 3].map(async () => (await server.inject({ method: "GET", url: "/metrics" })).body),
    );
    expect(statsReads).toBe(3);
    for (const text of texts) expect(valueOf(parseMetrics(text).samples, "optiq_jobs", { state: "queued" })).toBe(1);
  });
});
