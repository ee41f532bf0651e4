import type { FastifyInstance } from "fastify";
import type { EventHub } from "../event-hub.js";

export function eventRoutes(api: FastifyInstance, hub: EventHub): void {
  // no HEAD twin: it would open a stream too
  api.get("/api/events", { config: { queryToken: true }, exposeHeadRoute: false }, (_request, reply) => {
    // checked before hijacking, so the refusal is an ordinary error reply
    hub.assertRoom();
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      // a stream's socket is never reused: when it ends, it closes, and server.close() need not wait for it
      connection: "close",
      // nginx would otherwise buffer the stream
      "x-accel-buffering": "no",
      "x-content-type-options": "nosniff",
    });
    res.socket?.setNoDelay(true);
    res.write(": connected\n\n");
    res.on("close", () => hub.remove(res));
    hub.add(res);
  });
}
