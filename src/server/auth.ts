import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import { UnauthorizedError } from "../core/errors.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route also accepts the token as `?token=` (EventSource cannot send headers). */
    queryToken?: boolean;
  }
}

/**
 * For requests no route matched: under `/api` and `/metrics` an unknown path
 * asks for the token too, so that without it the API's routes cannot be
 * told apart from paths that do not exist.
 */
export function requireTokenForUnknownApiPaths(token: string): onRequestAsyncHookHandler {
  const check = requireToken(token);
  return async function (this: unknown, request, reply) {
    if (request.routeOptions.url !== undefined) return;
    if (!/^\/+(api|metrics)(\/|\?|$)/i.test(request.url)) return;
    await check.call(this as never, request, reply);
  };
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
  const match = typeof header === "string" ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (match) return match[1]!;
  // another scheme (a proxy's Basic credentials, say) does not hide a `?token=` where one is accepted
  if (request.routeOptions.config?.queryToken === true) {
    const { token } = request.query as { token?: unknown };
    if (typeof token === "string" && token !== "") return token;
  }
  return null;
}
