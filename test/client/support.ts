import type { FastifyInstance } from "fastify";
import { Optiq } from "../../src/optiq.js";
import { createServer, type ServerOptions } from "../../src/server/index.js";
export { deferred, type Deferred } from "../support/helpers.js";

export interface Served {
  queue: Optiq;
  server: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/**
 * A real queue behind a real server on a free port. `beforeListen` may add
 * hooks (e.g. to count requests) while fastify still accepts them.
 */
export async function serve(
  queue: Optiq = new Optiq(),
  options: Omit<ServerOptions, "queue"> = {},
  beforeListen?: (server: FastifyInstance) => void,
): Promise<Served> {
  await queue.start();
  const server = await createServer({ queue, dashboard: false, ...options });
  beforeListen?.(server);
  const url = await server.listen({ port: 0, host: "127.0.0.1" });
  return {
    queue,
    server,
    url,
    close: async () => {
      await server.close();
      await queue.stop({ graceful: false });
    },
  };
}
