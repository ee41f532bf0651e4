/**
 * server.close() against clients that misbehave, over real sockets: a body
 * that never finishes arriving, a request sent while the close runs. The
 * close must neither hang on them nor answer outside the documented error body.
 */
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { Optiq } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";
import { deferred } from "./helpers.js";

const queues: Optiq[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.stop();
});

async function started(): Promise<Optiq> {
  const queue = new Optiq();
  queues.push(queue);
  await queue.start();
  return queue;
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  await new Promise((resolve) => socket.once("connect", resolve));
  return socket;
}

/** Resolves with the first full HTTP response (status line and body) read from `socket`. */
function response(socket: net.Socket): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    let text = "";
    const onData = (chunk: Buffer): void => {
      text += chunk.toString("utf8");
      const match = /^HTTP\/1\.1 (\d+)[^]*?\r\ncontent-length: (\d+)\r\n[^]*?\r\n\r\n/i.exec(text);
      if (!match) return;
      const body = text.slice(match[0].length);
      if (Buffer.byteLength(body) < Number(match[2])) return;
      socket.off("data", onData);
      resolve({ status: Number(match[1]), body });
    };
    socket.on("data", onData);
  });
}

describe("server.close()", () => {
  it("does not wait for a request whose body never finishes arriving; its socket is closed", async () => {
    const queue = await started();
    // a grace period far beyond the test's timeout: only not waiting at all passes
    const server = await createServer({ queue, dashboard: false, closeGraceMs: 600_000 });
    const headersIn = deferred();
    server.addHook("onRequest", async () => headersIn.resolve());
    const { port } = new URL(await server.listen({ port: 0, host: "127.0.0.1" }));
    const slow = await connect(Number(port));
    const socketClosed = new Promise((resolve) => slow.once("close", resolve));
    slow.write(
      'POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":',
    );
    await headersIn.promise;
    await server.close();
    await socketClosed;
  });

  it("answers a request sent while it runs with the typed 503 OPTIQ_NOT_RUNNING, and lets the one in flight finish", async () => {
    const queue = await started();
    queue.declare("elsewhere");
    const { id } = await queue.submit("elsewhere");
    const server = await createServer({ queue, dashboard: false, closeGraceMs: 30_000 });
    const held = deferred();
    const holding = deferred();
    server.addHook("preHandler", async (request) => {
      if (request.url !== "/api/stats") return;
      holding.resolve();
      await held.promise;
    });
    const { port } = new URL(await server.listen({ port: 0, host: "127.0.0.1" }));
    const inFlight = await connect(Number(port));
    const waiting = await connect(Number(port));
    const later = await connect(Number(port));
    later.write("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n");
    expect((await response(later)).status).toBe(200); // the connection is open and idle now
    const waitAnswer = response(waiting);
    waiting.write(`GET /api/jobs/${id}/result HTTP/1.1\r\nHost: x\r\n\r\n`);
    const inFlightAnswer = response(inFlight);
    inFlight.write("GET /api/stats HTTP/1.1\r\nHost: x\r\n\r\n");
    await holding.promise;

    const closed = server.close();
    // the close answers pending result waits first: from then on it refuses new requests
    expect(JSON.parse((await waitAnswer).body)).toMatchObject({ error: { code: "OPTIQ_NOT_RUNNING" } });
    const refused = response(later);
    later.write("GET /api/jobs/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    const answer = await refused;
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toEqual({
      error: { code: "OPTIQ_NOT_RUNNING", message: "the server is closing" },
    });
    held.resolve();
    expect((await inFlightAnswer).status).toBe(200);
    await closed;
    for (const socket of [inFlight, waiting, later]) socket.destroy();
  });
});
