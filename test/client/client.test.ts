/**
 * OptiqClient over real HTTP: a real queue, the real server on a free port,
 * and the client's every method, its errors rebuilt as the queue's own
 * classes, result() across capped long-polls, and the event stream.
 */
import { getEventListeners } from "node:events";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import {
  ConnectionError,
  HttpError,
  JobCancelledError,
  JobFailedError,
  JobNotFoundError,
  OptiqClient,
  OptiqError,
  UnauthorizedError,
  UnknownJobNameError,
  ValidationError,
  WaitTimeoutError,
  type StreamEvent,
} from "../../src/client/index.js";
import { NonRetryableError, Optiq } from "../../src/index.js";
import { FakeClock } from "../../src/testing.js";
import { trackSubscriptions } from "../server/helpers.js";
import { deferred, serve } from "./support.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function started(
  queue = new Optiq(),
  options: Parameters<typeof serve>[1] = {},
  hook?: Parameters<typeof serve>[2],
) {
  const served = await serve(queue, options, hook);
  cleanups.push(served.close);
  return { ...served, client: new OptiqClient({ url: served.url }) };
}

function echoQueue(): Optiq {
  const queue = new Optiq();
  queue.define("echo", async (job) => ({ echoed: job.input }));
  return queue;
}

describe("OptiqClient: jobs", () => {
  it("submits, gets, lists and awaits a job's result", async () => {
    const { client } = await started(echoQueue());
    const submitted = await client.submit("echo", { n: 1 }, { priority: 3 });
    expect(submitted).toEqual({ id: expect.any(String), created: true });
    expect(await client.result(submitted.id)).toEqual({ echoed: { n: 1 } });
    const job = await client.get(submitted.id);
    expect(job).toMatchObject({ id: submitted.id, name: "echo", state: "completed", priority: 3, input: { n: 1 } });
    expect(job!.result).toEqual({ echoed: { n: 1 } });
    const page = await client.list({ name: "echo" });
    expect(page.jobs.map((j) => j.id)).toEqual([submitted.id]);
    expect(page.next).toBeNull();
  });

  it("returns the existing job for a repeated key, and submits many at once", async () => {
    const { client } = await started(echoQueue());
    const first = await client.submit("echo", 1, { key: "k" });
    expect(await client.submit("echo", 2, { key: "k" })).toEqual({ id: first.id, created: false });
    const many = await client.submitMany([
      { name: "echo", input: "a" },
      { name: "echo", input: "b", options: { runAt: new Date(Date.now() + 60_000) } },
    ]);
    expect(many).toHaveLength(2);
    expect(many.every((s) => s.created)).toBe(true);
    expect(await client.result(many[0]!.id)).toEqual({ echoed: "a" });
    expect((await client.get(many[1]!.id))!.state).toBe("queued");
  });

  it("pages through a list with next", async () => {
    const { client } = await started(echoQueue());
    const ids = (
      await client.submitMany([1, 2, 3].map((n) => ({ name: "echo", input: n, options: { delayMs: 60_000 } })))
    ).map((s) => s.id);
    const first = await client.list({ limit: 2, state: "queued" });
    expect(first.jobs.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    expect(first.next).not.toBeNull();
    const second = await client.list({ limit: 2, state: "queued", beforeId: first.next! });
    expect(second.jobs.map((j) => j.id)).toEqual([ids[0]]);
    expect(second.next).toBeNull();
  });

  it("cancels a running job: true, its result rejects JobCancelledError with the reason; then false", async () => {
    const queue = new Optiq();
    const running = deferred();
    queue.define(
      "wait",
      (_job, ctx) =>
        new Promise((_resolve, reject) => {
          running.resolve();
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
        }),
    );
    const { client } = await started(queue);
    const { id } = await client.submit("wait");
    await running.promise;
    expect(await client.cancel(id, { reason: "not needed" })).toBe(true);
    const err = await client.result(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobCancelledError);
    expect(err).toMatchObject({ jobId: id, reason: "not needed", code: "OPTIQ_JOB_CANCELLED" });
    expect(await client.cancel(id)).toBe(false);
  });

  it("reads stats and health", async () => {
    const { client } = await started(echoQueue());
    await client.result((await client.submit("echo", 1)).id);
    const stats = await client.stats();
    expect(stats.counts.completed).toBe(1);
    expect(stats.totals.submitted).toBe(1);
    expect(await client.health()).toMatchObject({ status: "healthy", issues: [], running: true });
  });

  it("returns a degraded health (HTTP 503) as an answer, not an error", async () => {
    const clock = new FakeClock();
    const queue = new Optiq({ clock, stuckAfterMs: 1000 });
    const release = deferred();
    const running = deferred();
    queue.define("quiet", async () => {
      running.resolve();
      await release.promise;
    });
    const { client } = await started(queue);
    const { id } = await client.submit("quiet");
    await running.promise;
    await clock.advance(1001);
    const health = await client.health();
    expect(health.status).toBe("degraded");
    expect(health.issues).toEqual([expect.objectContaining({ kind: "no-progress", jobId: id })]);
    release.resolve();
  });
});

describe("OptiqClient: errors are the queue's own classes", () => {
  it("get() of an unknown job is null; result() and cancel() reject JobNotFoundError", async () => {
    const { client } = await started(echoQueue());
    expect(await client.get("999999")).toBeNull();
    const err = await client.result("999999").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobNotFoundError);
    expect(err).toBeInstanceOf(OptiqError);
    expect(err).toMatchObject({ code: "OPTIQ_NOT_FOUND", status: 404, jobId: "999999" });
  });

  it("the ids . and .. are a ValidationError naming id, sent nowhere; other unknown ids are null", async () => {
    let requests = 0;
    const { client } = await started(echoQueue(), {}, (server) => {
      server.addHook("onRequest", async () => {
        requests++;
      });
    });
    for (const id of [".", ".."]) {
      await expect(client.get(id)).rejects.toMatchObject({ constructor: ValidationError, field: "id" });
      await expect(client.result(id)).rejects.toMatchObject({ constructor: ValidationError, field: "id" });
      await expect(client.cancel(id)).rejects.toMatchObject({ constructor: ValidationError, field: "id" });
    }
    expect(requests).toBe(0);
    expect(await client.get("a/..")).toBeNull();
    expect(await client.get("...")).toBeNull();
  });

  it("an invalid option is a ValidationError naming its field", async () => {
    const { client } = await started(echoQueue());
    const err = await client.submit("echo", 1, { priority: 1.5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe("options.priority");
    expect((err as ValidationError).message).toContain("options.priority");
    expect((err as ValidationError).status).toBe(400);
  });

  it("an unknown job name is UnknownJobNameError", async () => {
    const { client } = await started(echoQueue());
    const err = await client.submit("nope").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownJobNameError);
    expect(err).toMatchObject({ jobName: "nope", field: "name" });
  });

  it("a failed job's result is JobFailedError with its attempts and cause", async () => {
    const queue = new Optiq();
    queue.define("fail", async () => {
      throw new NonRetryableError("broken input");
    });
    const { client } = await started(queue);
    const { id } = await client.submit("fail");
    const err = await client.result(id).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobFailedError);
    expect(err).toMatchObject({ jobId: id, attempts: 1 });
    expect((err as JobFailedError).message).toContain("broken input");
    expect((err as JobFailedError).cause).toMatchObject({ message: "broken input", code: "OPTIQ_NON_RETRYABLE" });
  });

  it("a missing token is UnauthorizedError; the right one passes", async () => {
    const { url } = await started(echoQueue(), { token: "s3cret" });
    const err = await new OptiqClient({ url }).stats().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnauthorizedError);
    expect((err as OptiqError).status).toBe(401);
    const stats = await new OptiqClient({ url, token: "s3cret" }).stats();
    expect(stats.counts.queued).toBe(0);
  });

  it("an unreachable server is a ConnectionError, at once", async () => {
    const { url } = await started(echoQueue());
    await cleanups.pop()!(); // closes it: nothing listens on that port now
    const t0 = Date.now();
    const err = await new OptiqClient({ url }).stats().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ code: "OPTIQ_CONNECTION" });
    expect((err as Error).message).toContain("ECONNREFUSED");
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("a server that never answers is a ConnectionError after fetchTimeoutMs", async () => {
    const sockets = new Set<Socket>();
    const silent: NetServer = createNetServer((socket) => sockets.add(socket)); // accepts, says nothing
    const port = await listen(silent);
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((r) => silent.close(() => r()));
    });
    const client = new OptiqClient({ url: `http://127.0.0.1:${port}`, fetchTimeoutMs: 200 });
    const err = await client.stats().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toMatch(/within 200 ms/);
  });

  it("a response that is not optiq's is an HttpError with its status and body", async () => {
    const proxy: HttpServer = createHttpServer((_req, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end("<h1>Bad Gateway</h1>");
    });
    const port = await listen(proxy);
    cleanups.push(() => new Promise<void>((r) => proxy.close(() => r())));
    const err = await new OptiqClient({ url: `http://127.0.0.1:${port}` }).stats().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({
      status: 502,
      code: "OPTIQ_CONNECTION",
      remoteCode: null,
      body: "<h1>Bad Gateway</h1>",
    });
  });
});

describe("OptiqClient.result: long-polls", () => {
  it("asks again after each capped wait until the job ends; every request waits server-side", async () => {
    const queue = new Optiq();
    const finish = deferred<string>();
    queue.define("slow", () => finish.promise);
    let rounds = 0;
    const { client } = await started(queue, { maxResultWaitMs: 50 }, (server) => {
      server.addHook("onResponse", async (request, reply) => {
        if (!request.url.includes("/result")) return;
        rounds++;
        expect(reply.statusCode).toBe(rounds < 3 ? 408 : 200);
        expect(reply.elapsedTime).toBeGreaterThanOrEqual(rounds < 3 ? 40 : 0);
        // after two capped rounds came back empty, the job ends during the third
        if (rounds === 2) finish.resolve("done");
      });
    });
    const { id } = await client.submit("slow");
    expect(await client.result(id)).toBe("done");
    expect(rounds).toBe(3);
  });

  it("gives up with WaitTimeoutError after its own timeoutMs, naming the job's state", async () => {
    const queue = new Optiq();
    const finish = deferred<string>();
    queue.define("slow", () => finish.promise);
    let rounds = 0;
    const { client } = await started(queue, { maxResultWaitMs: 50 }, (server) => {
      server.addHook("onResponse", async (request) => {
        if (request.url.includes("/result")) rounds++;
      });
    });
    const { id } = await client.submit("slow");
    const t0 = Date.now();
    const err = await client.result(id, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect(err).toMatchObject({ jobId: id, timeoutMs: 300, state: "running" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(rounds).toBeGreaterThanOrEqual(3);
    expect(rounds).toBeLessThanOrEqual(8); // each round waited: no busy polling
    finish.resolve("late");
  });
});

describe("OptiqClient.events", () => {
  it("yields started, progress and completed, and ends when the signal aborts", async () => {
    const queue = new Optiq();
    queue.define("steps", async (_job, ctx) => {
      ctx.progress({ done: 1, total: 2 });
      return "ok";
    });
    const { client } = await started(queue);
    const ac = new AbortController();
    const stream = client.events(ac.signal);
    await stream.opened;
    const { id } = await client.submit("steps");
    const seen: StreamEvent[] = [];
    for await (const e of stream) {
      if (e.event === "stats") continue;
      seen.push(e);
      if (e.event === "completed" && e.data.id === id) ac.abort();
    }
    const names = seen.filter((e) => "id" in e.data && e.data.id === id).map((e) => e.event);
    expect(names).toEqual(["submitted", "started", "progress", "completed"]);
    const progress = seen.find((e) => e.event === "progress");
    expect(progress?.data).toMatchObject({ id, progress: { done: 1, total: 2 } });
  });

  it("ends when the signal aborts while waiting for the next event", async () => {
    const { client } = await started(echoQueue());
    const ac = new AbortController();
    const stream = client.events(ac.signal);
    await stream.opened;
    const seen: string[] = [];
    for await (const e of stream) {
      seen.push(e.event);
      if (e.event === "stats") ac.abort(); // the one sent at connect; nothing else comes
    }
    expect(seen).toContain("stats");
  });

  it("closes the connection when the loop breaks", async () => {
    const queue = echoQueue();
    const subscriptions = trackSubscriptions(queue);
    const { client, server } = await started(queue);
    const stream = client.events();
    for await (const e of stream) {
      if (e.event === "stats") {
        // the server holds the stream open: it listens to the queue for it
        expect(subscriptions.count()).toBeGreaterThan(0);
        break;
      }
    }
    // the server sees the stream closed, and lets go of the queue's events, before anyone closes the server
    await subscriptions.drained();
    expect(subscriptions.count()).toBe(0);
    await server.close();
  }, 10_000);

  it("leaves no listener on the caller's signal once a stream is over", async () => {
    const { client } = await started(echoQueue());
    const ac = new AbortController();
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on("warning", onWarning);
    try {
      for (let i = 0; i < 12; i++) {
        for await (const e of client.events(ac.signal)) {
          if (e.event === "stats") break;
        }
      }
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
      // a stream still open holds one, and lets go of it when it is cancelled
      const open = client.events(ac.signal);
      await open.opened;
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(1);
      for await (const e of open) if (e.event === "stats") break;
      expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.filter((w) => w.name === "MaxListenersExceededWarning")).toEqual([]);
  });

  it("an unreachable server rejects opened and the iteration with ConnectionError", async () => {
    const { url } = await started(echoQueue());
    await cleanups.pop()!();
    const stream = new OptiqClient({ url }).events();
    await expect(stream.opened).rejects.toBeInstanceOf(ConnectionError);
    await expect(
      (async () => {
        for await (const _ of stream) void _;
      })(),
    ).rejects.toBeInstanceOf(ConnectionError);
  });
});

function listen(server: NetServer | HttpServer): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port));
  });
}
