/**
 * GET /api/events over a real socket, read with fetch as a stream: the
 * facade's events in order, stats at connect and on the server's clock,
 * keep-alive comments, the stream limit, letting go of the queue when a
 * client leaves, and server.close() ending every stream.
 */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Optiq } from "../../src/index.js";
import { createServer, type ServerOptions } from "../../src/server/index.js";
import { FakeClock } from "../../src/testing.js";
import { capturingLogger } from "../support/helpers.js";
import { SseReader, deferred, listen, trackSubscriptions } from "./helpers.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(queue: Optiq, options: Partial<ServerOptions> = {}) {
  const subscriptions = trackSubscriptions(queue);
  const clock = new FakeClock();
  await queue.start();
  const server = await createServer({ queue, dashboard: false, clock, ...options });
  const base = await listen(server);
  const controllers: AbortController[] = [];
  cleanups.push(async () => {
    for (const c of controllers) c.abort();
    await server.close();
    await queue.stop({ timeoutMs: 1000 });
  });
  /** Opens a stream and reads up to its connect-time stats event (after which the server listens to the queue). */
  const open = async (): Promise<SseReader> => {
    const controller = new AbortController();
    controllers.push(controller);
    const res = await fetch(`${base}/api/events`, { signal: controller.signal });
    expect(res.status).toBe(200);
    const reader = new SseReader(res);
    await reader.until((m) => m.event === "stats");
    return reader;
  };
  return { server, base, clock, subscriptions, open, controllers };
}

describe("GET /api/events", () => {
  it("streams a job's submitted, started, progress and completed events in order; completed without its result", async () => {
    const queue = new Optiq();
    const release = deferred();
    queue.define("optimize", async (_job, ctx) => {
      ctx.progress({ trial: 1, best: 0.5 });
      await release.promise;
      ctx.progress({ trial: 2, best: 0.9 });
      return { weights: "x".repeat(1000) };
    });
    const { base, open } = await setup(queue);
    const reader = await open();
    const res = await fetch(`${base}/api/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "optimize", input: 1 }),
    });
    const { id } = (await res.json()) as { id: string };
    const ofJob = (m: { event: string; data: unknown }) => (m.data as { id?: string }).id === id;
    const submitted = await reader.until(ofJob);
    expect(submitted).toMatchObject({ event: "submitted", data: { id, name: "optimize", priority: 0 } });
    expect(await reader.until(ofJob)).toMatchObject({ event: "started", data: { id, attempt: 1 } });
    expect(await reader.until(ofJob)).toMatchObject({ event: "progress", data: { id, progress: { trial: 1 } } });
    release.resolve();
    expect(await reader.until(ofJob)).toMatchObject({ event: "progress", data: { id, progress: { trial: 2 } } });
    const completed = await reader.until(ofJob);
    expect(completed).toMatchObject({ event: "completed", data: { id, name: "optimize", attempt: 1 } });
    expect(completed.data).not.toHaveProperty("result");
    expect(await reader.until((m) => m.event === "drained")).toEqual({ event: "drained", data: {} });
  });

  it("sends stats at connect, then every statsIntervalMs of the server's clock, and a comment every 15 s", async () => {
    const queue = new Optiq();
    queue.declare("x");
    const { clock, base } = await setup(queue, { statsIntervalMs: 5000 });
    const res = await fetch(`${base}/api/events`);
    const reader = new SseReader(res);
    expect(await reader.next()).toEqual({ event: "comment", data: "connected" });
    const first = await reader.next();
    expect(first).toMatchObject({ event: "stats", data: { counts: { queued: 0 } } });
    await queue.submit("x");
    await reader.until((m) => m.event === "submitted");
    await clock.advance(5000);
    expect(await reader.next()).toMatchObject({ event: "stats", data: { counts: { queued: 1 } } });
    await clock.advance(10_000);
    // 10 s: a tick; 15 s: the keep-alive comment and another tick
    const next3 = [await reader.next(), await reader.next(), await reader.next()];
    expect(next3.map((m) => m?.event)).toEqual(["stats", "comment", "stats"]);
    expect(next3[1]).toEqual({ event: "comment", data: "keep-alive" });
    await reader.cancel();
  });

  it("lets go of the queue when the client disconnects: no listener and no timer is left", async () => {
    const queue = new Optiq();
    queue.declare("x");
    const { open, subscriptions, clock, controllers } = await setup(queue);
    expect(subscriptions.count()).toBe(0);
    expect(clock.pending).toBe(0);
    await open();
    await open();
    // one subscription per event name, shared by both streams
    expect(subscriptions.count()).toBe(8);
    expect(clock.pending).toBe(2);
    controllers[0]!.abort();
    await queue.submit("x"); // the remaining stream still gets events
    expect(subscriptions.count()).toBe(8);
    controllers[1]!.abort();
    await subscriptions.drained();
    expect(clock.pending).toBe(0);
  });

  it("answers one stream over maxEventStreams with 503 OPTIQ_TOO_MANY_STREAMS, and has room again once one closes", async () => {
    const queue = new Optiq();
    const { base, open, controllers, subscriptions } = await setup(queue, { maxEventStreams: 2 });
    await open();
    await open();
    const third = await fetch(`${base}/api/events`);
    expect(third.status).toBe(503);
    expect(await third.json()).toEqual({
      error: { code: "OPTIQ_TOO_MANY_STREAMS", message: expect.any(String), limit: 2 },
    });
    controllers[0]!.abort();
    controllers[1]!.abort();
    await subscriptions.drained();
    await open();
  });

  it("server.close() ends every open stream and resolves; the queue keeps running", async () => {
    const queue = new Optiq();
    queue.define("square", async (job) => (job.input as number) ** 2);
    const { server, open, subscriptions, clock } = await setup(queue);
    const readers = [await open(), await open()];
    await server.close();
    await Promise.all(readers.map((r) => r.end()));
    expect(subscriptions.count()).toBe(0);
    expect(clock.pending).toBe(0);
    const { id } = await queue.submit("square", 4);
    expect(await queue.result(id)).toBe(16);
  });

  it("server.close() answers a pending result wait with 503 instead of waiting for it", async () => {
    const queue = new Optiq();
    queue.declare("elsewhere");
    const { server, base } = await setup(queue);
    const { id } = await queue.submit("elsewhere");
    const waiting = fetch(`${base}/api/jobs/${id}/result?timeoutMs=60000`);
    // the request is in the server once its route asked the queue
    const asked = deferred();
    const result = queue.result.bind(queue);
    queue.result = ((jobId, options) => {
      asked.resolve();
      return result(jobId, options);
    }) as Optiq["result"];
    await asked.promise;
    await server.close();
    const res = await waiting;
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("OPTIQ_NOT_RUNNING");
  });

  it("disconnects a client that does not read once more than 1 MiB is unsent", async () => {
    const queue = new Optiq();
    const logger = capturingLogger();
    const chunk = "x".repeat(200_000);
    const done = deferred();
    queue.define("chatty", async (_job, ctx) => {
      for (let i = 0; i < 100; i++) ctx.progress({ i, chunk });
      await done.promise;
    });
    const { base, subscriptions } = await setup(queue, { logger });
    const { port } = new URL(base);
    // a client that sends its request and never reads the answer
    const socket = connect(Number(port), "127.0.0.1");
    cleanups.push(async () => void socket.destroy());
    socket.pause();
    socket.write("GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    const subscribed = deferred();
    const on = queue.on.bind(queue);
    queue.on = ((event, listener) => {
      if (event === "drained") subscribed.resolve();
      return on(event, listener);
    }) as Optiq["on"];
    await subscribed.promise;
    await queue.submit("chatty");
    await subscriptions.drained();
    done.resolve();
    expect(logger.find("event stream: client too slow, disconnected", "warn")).toHaveLength(1);
  });
});
