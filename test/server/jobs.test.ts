/**
 * The job routes of docs/http-api.md through inject(), over a real queue on
 * the memory store: every route is one facade call, every error the facade's
 * typed error with the status of its code.
 */
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NonRetryableError, Optiq } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";
import { deferred, type Deferred } from "./helpers.js";

let queue: Optiq;
let server: FastifyInstance;
let gate: Deferred<unknown>;
let started: Deferred<string>;

beforeEach(async () => {
  queue = new Optiq({ concurrency: 4 });
  queue.define("square", async (job) => (job.input as number) ** 2);
  gate = deferred<unknown>();
  started = deferred<string>();
  queue.define("gated", async (job, ctx) => {
    started.resolve(job.id);
    return Promise.race([
      gate.promise,
      new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))),
    ]);
  });
  queue.define(
    "broken",
    async () => {
      throw new NonRetryableError("bad input", { cause: new Error("field x is missing") });
    },
    { maxAttempts: 1 },
  );
  queue.declare("elsewhere");
  await queue.start();
  server = await createServer({ queue, dashboard: false, maxResultWaitMs: 5_000, bodyLimitBytes: 64 * 1024 });
});

afterEach(async () => {
  await server.close();
  await queue.stop({ timeoutMs: 1000 });
});

function post(url: string, payload?: unknown) {
  return server.inject({ method: "POST", url, ...(payload === undefined ? {} : { payload: payload as object }) });
}

describe("POST /api/jobs", () => {
  it("submits: 201 { id, created: true }; the same key again is 200 with the same id and created false", async () => {
    const first = await post("/api/jobs", { name: "elsewhere", input: { n: 1 }, options: { key: "k-1", priority: 5 } });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toEqual({ id: expect.any(String), created: true });
    const again = await post("/api/jobs", { name: "elsewhere", input: { n: 2 }, options: { key: "k-1" } });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ id: first.json().id, created: false });
    expect(await queue.get(first.json().id)).toMatchObject({ input: { n: 1 }, priority: 5, key: "k-1" });
  });

  it.each([
    ["a bad priority", { name: "square", options: { priority: 1.5 } }, "options.priority", "OPTIQ_VALIDATION"],
    ["a negative delay", { name: "square", options: { delayMs: -1 } }, "options.delayMs", "OPTIQ_VALIDATION"],
    [
      "a bad backoff",
      { name: "square", options: { backoff: { type: "linear" } } },
      "options.backoff.type",
      "OPTIQ_VALIDATION",
    ],
    [
      "an option only in-process callers have",
      { name: "square", options: { ifFull: "wait" } },
      "options.ifFull",
      "OPTIQ_VALIDATION",
    ],
    ["options that are not an object", { name: "square", options: 5 }, "options", "OPTIQ_VALIDATION"],
    ["an unknown top-level key", { name: "square", inputs: 5 }, "inputs", "OPTIQ_VALIDATION"],
    ["no name", { input: 1 }, "name", "OPTIQ_VALIDATION"],
    ["a name that is not a string", { name: 7 }, "name", "OPTIQ_VALIDATION"],
    ["an unknown name", { name: "nope" }, "name", "OPTIQ_UNKNOWN_JOB_NAME"],
    ["a body that is an array", [1, 2], "body", "OPTIQ_VALIDATION"],
  ])("rejects %s with 400 naming the field", async (_what, body, field, code) => {
    const res = await post("/api/jobs", body);
    expect(res.statusCode).toBe(400);
    const { error } = res.json();
    expect(error).toMatchObject({ code, field });
    expect(error.message).toContain(field);
  });

  it("rejects a body that is not JSON, or not sent as JSON, with 400 naming `body`", async () => {
    const broken = await server.inject({
      method: "POST",
      url: "/api/jobs",
      headers: { "content-type": "application/json" },
      payload: '{"name": "square",',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json().error).toMatchObject({ code: "OPTIQ_VALIDATION", field: "body" });
    const text = await server.inject({
      method: "POST",
      url: "/api/jobs",
      headers: { "content-type": "text/plain" },
      payload: "square",
    });
    expect(text.statusCode).toBe(400);
    expect(text.json().error).toMatchObject({ code: "OPTIQ_VALIDATION", field: "body" });
    const empty = await post("/api/jobs");
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error).toMatchObject({ code: "OPTIQ_VALIDATION", field: "body" });
  });

  it("answers a body above bodyLimitBytes with 413 OPTIQ_PAYLOAD_TOO_LARGE", async () => {
    const res = await post("/api/jobs", { name: "square", input: "x".repeat(70 * 1024) });
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toMatchObject({ code: "OPTIQ_PAYLOAD_TOO_LARGE", field: "body", limit: 64 * 1024 });
    expect((await queue.stats()).totals.submitted).toBe(0);
  });
});

describe("POST /api/jobs/batch", () => {
  it("submits all: 201 with one { id, created } per job, in order", async () => {
    const res = await post("/api/jobs/batch", {
      jobs: [{ name: "elsewhere", input: 1 }, { name: "elsewhere", options: { key: "b" } }, { name: "elsewhere" }],
    });
    expect(res.statusCode).toBe(201);
    const { jobs } = res.json() as { jobs: { id: string; created: boolean }[] };
    expect(jobs).toHaveLength(3);
    expect(jobs.every((j) => j.created)).toBe(true);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(3);
  });

  it("accepts none when one item is invalid, naming it as jobs[i]", async () => {
    const res = await post("/api/jobs/batch", {
      jobs: [{ name: "elsewhere" }, { name: "elsewhere" }, { name: "elsewhere", options: { priority: "high" } }],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: "OPTIQ_VALIDATION", field: "jobs[2].options.priority" });
    const unknown = await post("/api/jobs/batch", { jobs: [{ name: "elsewhere" }, { name: "nope" }] });
    expect(unknown.json().error).toMatchObject({ code: "OPTIQ_UNKNOWN_JOB_NAME", field: "jobs[1].name" });
    const shape = await post("/api/jobs/batch", { jobs: [{ name: "elsewhere" }, { nam: "elsewhere" }] });
    expect(shape.json().error).toMatchObject({ code: "OPTIQ_VALIDATION", field: "jobs[1].nam" });
    expect((await queue.stats()).counts.queued).toBe(0);
  });

  it("caps a batch at 1000 jobs, naming `jobs`", async () => {
    const jobs = Array.from({ length: 1001 }, () => ({ name: "elsewhere" }));
    const res = await post("/api/jobs/batch", { jobs });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: "OPTIQ_VALIDATION", field: "jobs" });
    expect(res.json().error.message).toMatch(/^jobs: .*1000/);
    const missing = await post("/api/jobs/batch", {});
    expect(missing.json().error).toMatchObject({ code: "OPTIQ_VALIDATION", field: "jobs" });
    const ok = await post("/api/jobs/batch", { jobs: jobs.slice(1) });
    expect(ok.statusCode).toBe(201);
  });
});

describe("GET /api/jobs and /api/jobs/:id", () => {
  it("returns a job snapshot, and 404 OPTIQ_NOT_FOUND with jobId for an unknown id", async () => {
    const { id } = (await post("/api/jobs", { name: "elsewhere", input: [1, 2] })).json();
    const res = await server.inject({ method: "GET", url: `/api/jobs/${id}` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id, name: "elsewhere", state: "queued", input: [1, 2] });
    const missing = await server.inject({ method: "GET", url: "/api/jobs/999999" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({
      error: { code: "OPTIQ_NOT_FOUND", message: expect.stringContaining("999999"), jobId: "999999" },
    });
  });

  it("lists newest first, a page at a time; `next` fetches the following page and is null on the last", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await post("/api/jobs", { name: "elsewhere", input: i })).json().id);
    const newestFirst = [...ids].reverse();
    const page1 = (await server.inject({ method: "GET", url: "/api/jobs?limit=2" })).json();
    expect(page1.jobs.map((j: { id: string }) => j.id)).toEqual(newestFirst.slice(0, 2));
    const page2 = (await server.inject({ method: "GET", url: `/api/jobs?limit=2&beforeId=${page1.next}` })).json();
    expect(page2.jobs.map((j: { id: string }) => j.id)).toEqual(newestFirst.slice(2, 4));
    const page3 = (await server.inject({ method: "GET", url: `/api/jobs?limit=2&beforeId=${page2.next}` })).json();
    expect(page3).toMatchObject({ jobs: [{ id: ids[0] }], next: null });
    // a full page that happens to be the last one says so too
    const exact = (await server.inject({ method: "GET", url: "/api/jobs?limit=5" })).json();
    expect(exact.jobs).toHaveLength(5);
    expect(exact.next).toBeNull();
  });

  it("filters by state and name, and names a bad query parameter", async () => {
    await post("/api/jobs", { name: "elsewhere" });
    const queued = (await server.inject({ method: "GET", url: "/api/jobs?state=queued&name=elsewhere" })).json();
    expect(queued.jobs).toHaveLength(1);
    expect((await server.inject({ method: "GET", url: "/api/jobs?state=failed" })).json().jobs).toEqual([]);
    for (const [query, field] of [
      ["state=done", "state"],
      ["limit=0", "limit"],
      ["limit=1001", "limit"],
      ["limit=ten", "limit"],
      ["color=red", "color"],
    ]) {
      const res = await server.inject({ method: "GET", url: `/api/jobs?${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error, query).toMatchObject({ code: "OPTIQ_VALIDATION", field });
    }
  });
});

describe("GET /api/jobs/:id/result", () => {
  it("waits without polling: answers when the job completes after the request is in flight", async () => {
    const asked = deferred();
    const result = queue.result.bind(queue);
    queue.result = ((id, options) => {
      asked.resolve();
      return result(id, options);
    }) as Optiq["result"];
    const { id } = (await post("/api/jobs", { name: "gated" })).json();
    await started.promise;
    let answered = false;
    const pending = server.inject({ method: "GET", url: `/api/jobs/${id}/result` }).then((res) => {
      answered = true;
      return res;
    });
    await asked.promise;
    expect(answered).toBe(false);
    gate.resolve({ best: 0.93 });
    const res = await pending;
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id, result: { best: 0.93 } });
  });

  it("a client that goes away takes its wait with it (over a real socket), not at its timeout", async () => {
    const waits: Promise<unknown>[] = [];
    const asked = deferred<AbortSignal>();
    const result = queue.result.bind(queue);
    queue.result = ((id, options) => {
      const wait = result(id, options);
      waits.push(wait.catch((e: unknown) => e));
      asked.resolve(options!.signal!);
      return wait;
    }) as Optiq["result"];
    const { id } = (await post("/api/jobs", { name: "gated" })).json();
    const url = await server.listen({ port: 0, host: "127.0.0.1" });
    const client = new AbortController();
    const request = fetch(`${url}/api/jobs/${id}/result?timeoutMs=5000`, { signal: client.signal }).catch(
      (e: unknown) => e,
    );
    const signal = await asked.promise;
    const serverSawIt = new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    client.abort();
    await request;
    await serverSawIt;
    expect(await waits[0]).toMatchObject({ code: "OPTIQ_ABORTED" });
    gate.resolve("still done");
    expect(await result(id)).toBe("still done"); // the job itself went on
  });

  it("answers 408 OPTIQ_WAIT_TIMEOUT with the job's state after timeoutMs; the job goes on", async () => {
    const { id } = (await post("/api/jobs", { name: "gated" })).json();
    await started.promise;
    const res = await server.inject({ method: "GET", url: `/api/jobs/${id}/result?timeoutMs=20` });
    expect(res.statusCode).toBe(408);
    expect(res.json().error).toMatchObject({ code: "OPTIQ_WAIT_TIMEOUT", jobId: id, state: "running", timeoutMs: 20 });
    gate.resolve("done");
    const again = await server.inject({ method: "GET", url: `/api/jobs/${id}/result?timeoutMs=5000` });
    expect(again.json()).toEqual({ id, result: "done" });
  });

  it("caps timeoutMs at maxResultWaitMs", async () => {
    await server.close();
    server = await createServer({ queue, dashboard: false, maxResultWaitMs: 30 });
    const { id } = (await post("/api/jobs", { name: "elsewhere" })).json();
    const res = await server.inject({ method: "GET", url: `/api/jobs/${id}/result?timeoutMs=600000` });
    expect(res.statusCode).toBe(408);
    expect(res.json().error).toMatchObject({ code: "OPTIQ_WAIT_TIMEOUT", timeoutMs: 30, state: "queued" });
    const bad = await server.inject({ method: "GET", url: `/api/jobs/${id}/result?timeoutMs=soon` });
    expect(bad.json().error).toMatchObject({ code: "OPTIQ_VALIDATION", field: "timeoutMs" });
  });

  it("answers a failed job with OPTIQ_JOB_FAILED, its attempts and cause", async () => {
    const { id } = (await post("/api/jobs", { name: "broken" })).json();
    const res = await server.inject({ method: "GET", url: `/api/jobs/${id}/result` });
    expect(res.statusCode).toBe(500);
    const { error } = res.json();
    expect(error).toMatchObject({
      code: "OPTIQ_JOB_FAILED",
      jobId: id,
      attempts: 1,
      cause: {
        name: "NonRetryableError",
        code: "OPTIQ_NON_RETRYABLE",
        message: "bad input",
        cause: { message: "field x is missing" },
      },
    });
    expect(JSON.stringify(error)).not.toContain("stack");
  });

  it("answers an unknown job with 404", async () => {
    const res = await server.inject({ method: "GET", url: "/api/jobs/424242/result" });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe("OPTIQ_NOT_FOUND");
  });

  it("names the id when it is too long to be one, however long", async () => {
    for (const length of [65, 150, 900]) {
      const res = await server.inject({ method: "GET", url: `/api/jobs/${"9".repeat(length)}/result` });
      expect(res.statusCode, String(length)).toBe(400);
      expect(res.json().error, String(length)).toMatchObject({ code: "OPTIQ_VALIDATION", field: "id" });
    }
  });
});

describe("POST /api/jobs/:id/cancel", () => {
  it("cancels a queued job: { cancelled: true }, then its result is 409 OPTIQ_JOB_CANCELLED with the reason", async () => {
    const { id } = (await post("/api/jobs", { name: "elsewhere" })).json();
    const res = await post(`/api/jobs/${id}/cancel`, { reason: "no longer needed" });
    expect(res.json()).toEqual({ cancelled: true });
    const result = await server.inject({ method: "GET", url: `/api/jobs/${id}/result` });
    expect(result.statusCode).toBe(409);
    expect(result.json().error).toMatchObject({ code: "OPTIQ_JOB_CANCELLED", jobId: id, reason: "no longer needed" });
  });

  it("cancels a running job (its signal fires) with no body at all", async () => {
    const { id } = (await post("/api/jobs", { name: "gated" })).json();
    await started.promise;
    const res = await post(`/api/jobs/${id}/cancel`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ cancelled: true });
    const result = await server.inject({ method: "GET", url: `/api/jobs/${id}/result` });
    expect(result.statusCode).toBe(409);
    expect(result.json().error.code).toBe("OPTIQ_JOB_CANCELLED");
    expect((await queue.get(id))?.state).toBe("cancelled");
  });

  it("answers { cancelled: false } for an unknown or finished job, and names a bad reason", async () => {
    expect((await post("/api/jobs/31337/cancel", {})).json()).toEqual({ cancelled: false });
    const { id } = (await post("/api/jobs", { name: "square", input: 3 })).json();
    await queue.result(id);
    const empty = await server.inject({
      method: "POST",
      url: `/api/jobs/${id}/cancel`,
      headers: { "content-type": "application/json" },
      payload: "",
    });
    expect(empty.json()).toEqual({ cancelled: false });
    const bad = await post(`/api/jobs/${id}/cancel`, { reason: 42 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: "OPTIQ_VALIDATION", field: "reason" });
    const list = await post(`/api/jobs/${id}/cancel`, []);
    expect(list.json().error).toMatchObject({ field: "body", message: "body: must be an object or null" });
  });
});

describe("unknown routes", () => {
  it("are 404 OPTIQ_ROUTE_NOT_FOUND, and the dashboard is absent with dashboard: false", async () => {
    for (const [method, url] of [
      ["GET", "/api/nope"],
      ["DELETE", "/api/jobs/1"],
      ["GET", "/"],
      ["GET", "/dashboard/index.html"],
    ] as const) {
      const res = await server.inject({ method, url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error, url).toMatchObject({ code: "OPTIQ_ROUTE_NOT_FOUND", method, path: url });
    }
  });
});
