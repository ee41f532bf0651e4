/** `optiq/server`: the HTTP API, event stream, metrics and dashboard over one queue (docs/http-api.md). */
import Fastify, { type FastifyInstance } from "fastify";
import { InternalError, NotRunningError } from "../core/errors.js";
import { requireToken, requireTokenForUnknownApiPaths } from "./auth.js";
import { dashboardRoutes } from "./dashboard.js";
import { installErrorHandling, pathOf, sendError, toOptiqError } from "./errors.js";
import { EventHub } from "./event-hub.js";
import { InFlight } from "./in-flight.js";
import { installJsonBody } from "./json-body.js";
import { QueueMetrics, metricsRoute } from "./metrics.js";
import { resolveServerSettings, type ServerOptions } from "./options.js";
import { eventRoutes } from "./routes/events.js";
import { jobRoutes } from "./routes/jobs.js";
import { statusRoutes } from "./routes/status.js";

export type { ServerOptions };

/**
 * A fastify instance serving `options.queue`, not yet listening: call
 * `await server.listen({ port, host })`. `server.close()` ends the event
 * streams, answers pending result waits with 503, lets the responses in
 * flight finish and closes the sockets; it does not stop the queue.
 */
export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const settings = resolveServerSettings(options);
  const { queue, logger, bodyLimitBytes } = settings;
  const server = Fastify({
    // requests are logged through the given logger below; fastify's wants a full pino
    logger: false,
    // see InFlight: sockets are destroyed only after the responses in flight are written
    forceCloseConnections: true,
    // requests during the close get the typed NotRunningError below, not fastify's own 503 body
    return503OnClosing: false,
    bodyLimit: bodyLimitBytes,
    // long enough that an overlong id reaches the facade, which names the field (`id`)
    routerOptions: { maxParamLength: 1000 },
    // fastify times its close steps like plugin loads: the close may wait closeGraceMs for responses
    pluginTimeout: settings.closeGraceMs + 10_000,
    ajv: {
      // the schemas check shape only, and must reject what they do not know rather than quietly drop it or coerce it
      customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false },
    },
    frameworkErrors: (err, request, reply) => {
      void sendError(reply, toOptiqError(err, request, bodyLimitBytes) ?? new InternalError());
    },
  });
  installJsonBody(server);
  installErrorHandling(server, logger, bodyLimitBytes);
  const inFlight = new InFlight();
  let closingStarted = false;
  server.addHook("onRequest", async () => {
    if (closingStarted) throw new NotRunningError("the server is closing");
  });
  server.addHook("preHandler", async (_request, reply) => inFlight.track(reply.raw));
  if (settings.token !== null) server.addHook("onRequest", requireTokenForUnknownApiPaths(settings.token));
  server.addHook("onSend", async (_request, reply) => {
    void reply.header("x-content-type-options", "nosniff");
  });
  server.addHook("onResponse", async (request, reply) => {
    logger.info(
      {
        method: request.method,
        url: pathOf(request.url),
        statusCode: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      "request completed",
    );
  });

  const hub = new EventHub({
    queue,
    clock: settings.clock,
    logger,
    statsIntervalMs: settings.statsIntervalMs,
    maxStreams: settings.maxEventStreams,
  });
  let rejectClosing!: (err: unknown) => void;
  const closing = new Promise<never>((_resolve, reject) => (rejectClosing = reject));
  closing.catch(() => undefined); // only raced against result waits; none may be pending
  server.addHook("preClose", async () => {
    closingStarted = true;
    hub.close();
    rejectClosing(new NotRunningError("the server is closing"));
    await inFlight.settled(settings.closeGraceMs);
  });

  const metrics = new QueueMetrics(queue);
  await server.register(async (api) => {
    if (settings.token !== null) api.addHook("onRequest", requireToken(settings.token));
    jobRoutes(api, { queue, maxResultWaitMs: settings.maxResultWaitMs, closing });
    statusRoutes(api, queue);
    eventRoutes(api, hub);
    metricsRoute(api, metrics);
  });
  if (settings.dashboardDir !== null) await dashboardRoutes(server, settings.dashboardDir);
  return server;
}
