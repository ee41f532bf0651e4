import type { FastifyInstance } from "fastify";
import { ValidationError } from "../core/errors.js";

/**
 * fastify's own JSON parser (it refuses `__proto__` and `constructor`
 * tricks), except that an empty body is no body: `POST /api/jobs/:id/cancel`
 * takes an optional one, and clients send the JSON content type regardless.
 * A body that is not JSON, or not sent as JSON, is a validation error naming `body`.
 */
export function installJsonBody(server: FastifyInstance): void {
  const parseJson = server.getDefaultJsonParser("error", "error");
  server.removeContentTypeParser(["application/json", "text/plain"]);
  server.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") {
      done(null, undefined);
      return;
    }
    parseJson(request, text, (err, value) => {
      if (err) done(new ValidationError("body", `is not valid JSON (${err.message})`), undefined);
      else done(null, value);
    });
  });
}
