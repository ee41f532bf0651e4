import type { FastifyInstance } from "fastify";
import type { Optiq } from "../../optiq.js";

export function statusRoutes(api: FastifyInstance, queue: Optiq): void {
  api.get("/api/stats", () => queue.stats());

  // load balancers and probes read the status code, people read the body
  api.get("/api/health", async (_request, reply) => {
    const health = await queue.health();
    return reply.code(health.status === "healthy" ? 200 : 503).send(health);
  });
}
