/** With a token, /api/* and /metrics need `Authorization: Bearer <token>`; `?token=` works on /api/events only. */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Optiq } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";
import { SseReader, listen } from "./helpers.js";

const TOKEN = "s3cret-token";
let queue: Optiq;
let server: FastifyInstance;
let base: string;

beforeAll(async () => {
  queue = new Optiq();
  queue.declare("x");
  await queue.start();
  server = await createServer({ queue, token: TOKEN, dashboard: false });
  base = await listen(server);
});

afterAll(async () => {
  await server.close();
  await queue.stop();
});

const routes = [
  ["GET", "/api/stats"],
  ["GET", "/api/health"],
  ["GET", "/api/jobs"],
  ["GET", "/api/jobs/1"],
  ["POST", "/api/jobs"],
  ["POST", "/api/jobs/batch"],
  ["POST", "/api/jobs/1/cancel"],
  ["GET", "/api/jobs/1/result"],
  ["GET", "/api/events"],
  ["GET", "/metrics"],
] as const;

describe("a server with a token", () => {
  it.each(routes)("%s %s is 401 OPTIQ_UNAUTHORIZED without the token, or with a wrong one", async (method, url) => {
    for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: `Basic ${TOKEN}` }]) {
      const res = await server.inject({ method, url, headers });
      expect(res.statusCode).toBe(401);
      expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
      expect(res.json().error.code).toBe("OPTIQ_UNAUTHORIZED");
    }
  });

  it("accepts the bearer token", async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await server.inject({ method: "GET", url: "/api/stats", headers: auth })).statusCode).toBe(200);
    expect((await server.inject({ method: "GET", url: "/metrics", headers: auth })).statusCode).toBe(200);
    const submitted = await server.inject({ method: "POST", url: "/api/jobs", headers: auth, payload: { name: "x" } });
    expect(submitted.statusCode).toBe(201);
  });

  it("accepts ?token= on /api/events only", async () => {
    const stats = await fetch(`${base}/api/stats?token=${TOKEN}`);
    expect(stats.status).toBe(401);
    const metrics = await fetch(`${base}/metrics?token=${TOKEN}`);
    expect(metrics.status).toBe(401);
    const wrong = await fetch(`${base}/api/events?token=wrong`);
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe("OPTIQ_UNAUTHORIZED");

    const controller = new AbortController();
    const events = await fetch(`${base}/api/events?token=${TOKEN}`, { signal: controller.signal });
    expect(events.status).toBe(200);
    expect(events.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = new SseReader(events);
    expect((await reader.until((m) => m.event === "stats")).data).toMatchObject({ counts: expect.any(Object) });
    controller.abort();
  });

  it("no spelling of a protected path slips past the token", async () => {
    for (const path of ["/%61pi/stats", "/api/%73tats", "/api//stats", "/API/stats", "/api/stats/"]) {
      const res = await fetch(`${base}${path}`);
      expect([401, 404], path).toContain(res.status);
    }
  });

  it("routes that do not exist are still 404; under /api and /metrics, only with the token", async () => {
    const res = await server.inject({ method: "GET", url: "/nope" });
    expect(res.statusCode).toBe(404);
    // without the token, the API's paths cannot be told apart from paths that do not exist
    for (const url of ["/api/nope", "/api/jobs/1/nope", "/metrics/nope", "//api/nope"]) {
      expect((await server.inject({ method: "GET", url })).statusCode, url).toBe(401);
      const known = await server.inject({ method: "GET", url, headers: { authorization: `Bearer ${TOKEN}` } });
      expect(known.statusCode, url).toBe(404);
    }
  });

  it("takes ?token= on /api/events even when another scheme's Authorization header is sent", async () => {
    const controller = new AbortController();
    const events = await fetch(`${base}/api/events?token=${TOKEN}`, {
      headers: { authorization: "Basic dXNlcjpwYXNz" },
      signal: controller.signal,
    });
    expect(events.status).toBe(200);
    controller.abort();
  });
});
