import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { UnauthorizedError } from "../core/errors.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route also accepts the token as `?token=` (EventSource cannot send headers). */
    queryToken?: boolean;
  }
}

/** Compared as digests, so neither the length nor the content of the token leaks through timing. */
function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/**
 * A hook for the routes that need the token. Registered on the protected
 * routes' plugin rather than matched against the URL, so no spelling of a
 * path (`%61pi`, `//api`) can reach a route without it.
 */
export function requireToken(token: string): onRequestAsyncHookHandler {
  const expected = digest(token);
  return async (request: FastifyRequest) => {
    const given = tokenOf(request);
    if (given === null) throw new UnauthorizedError();
    if (!timingSafeEqual(digest(given), expected)) throw new UnauthorizedError("the bearer token is wrong");
  };
}

function tokenOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header === "string") {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match ? match[1]! : null;
  }
  if (request.routeOptions.config.queryToken === true) {
    const { token } = request.query as { token?: unknown };
    if (typeof token === "string" && token !== "") return token;
  }
  return null;
}
