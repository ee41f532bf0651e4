import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchemaValidationError,
} from "fastify";
import {
  InternalError,
  OptiqError,
  PayloadTooLargeError,
  RouteNotFoundError,
  UnknownJobNameError,
  ValidationError,
} from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { serializeError } from "../core/serialize-error.js";
import type { SerializedError } from "../core/job.js";

export interface ErrorBody {
  error: { code: string; message: string; field?: string; [detail: string]: unknown };
}

/** Keys of an error that the body carries in its own way, or that are for the server's eyes only. */
const NOT_DETAILS = new Set(["name", "message", "code", "status", "stack", "cause"]);

/** An optiq error as the HTTP contract sends it: its code, message, field and details, with its status. */
export function errorReply(err: OptiqError): { status: number; body: ErrorBody } {
  const body: ErrorBody["error"] = { code: err.code, message: err.message };
  for (const [key, value] of Object.entries(err)) {
    if (!NOT_DETAILS.has(key) && value !== undefined) body[key] = value;
  }
  if (err.cause !== undefined && err.cause !== null) body.cause = withoutStacks(toSerialized(err.cause));
  return { status: err.status, body: { error: body } };
}

function toSerialized(cause: unknown): SerializedError {
  if (cause instanceof Error) return serializeError(cause);
  if (typeof cause === "object" && cause !== null && "message" in cause) return cause as SerializedError;
  return serializeError(cause);
}

/** Stack traces describe the server's code, not the client's request. */
function withoutStacks(err: SerializedError): SerializedError {
  const { stack: _stack, cause, ...rest } = err;
  return cause === undefined ? rest : { ...rest, cause: withoutStacks(cause) };
}

/**
 * The same error, naming its field as the HTTP body does: the library names
 * `items[2].name` where the batch body has `jobs[2].name`.
 */
export function renameField(err: unknown, rename: (field: string) => string): unknown {
  if (err instanceof ValidationError) return new ValidationError(rename(err.field), err.reason);
  if (err instanceof PayloadTooLargeError) return new PayloadTooLargeError(rename(err.field), err.bytes, err.limit);
  if (err instanceof UnknownJobNameError) return new UnknownJobNameError(err.jobName, rename(err.field));
  return err;
}

/** Any error a route, hook or fastify itself raised, as an optiq error. */
export function toOptiqError(err: unknown, request: FastifyRequest, bodyLimit: number): OptiqError | null {
  if (err instanceof OptiqError) return err;
  const fe = err as Partial<FastifyError>;
  if (Array.isArray(fe.validation) && fe.validation.length > 0) {
    return validationError(fe.validationContext ?? "body", fe.validation[0]!);
  }
  switch (fe.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE": {
      const declared = Number(request.headers["content-length"]);
      return new PayloadTooLargeError("body", Number.isFinite(declared) ? declared : bodyLimit + 1, bodyLimit);
    }
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ValidationError("body", `must be JSON (content-type application/json), got ${describeType(request)}`);
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new ValidationError("body", "is empty; send a JSON object");
  }
  // fastify's own client errors (a bad URL, a bad content-length) keep their status class as a validation error
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500 && fe.message) {
    return new ValidationError("request", fe.message);
  }
  return null;
}

function describeType(request: FastifyRequest): string {
  const type = request.headers["content-type"];
  return type === undefined ? "none" : JSON.stringify(type);
}

/** The first schema violation, naming its field as a JSON path (`jobs[2].options.ifFull`). */
export function validationError(context: string, v: FastifySchemaValidationError): ValidationError {
  const params = v.params as Record<string, unknown>;
  let path = jsonPath(v.instancePath);
  let reason: string;
  switch (v.keyword) {
    case "required":
      path = join(path, String(params.missingProperty));
      reason = "is required";
      break;
    case "additionalProperties":
      path = join(path, String(params.additionalProperty));
      reason = "is not a field accepted here";
      break;
    case "type": {
      const types = Array.isArray(params.type) ? (params.type as unknown[]).map(String) : [String(params.type)];
      reason = `must be ${types.map(article).join(" or ")}`;
      break;
    }
    case "maxItems":
      reason = `must have at most ${String(params.limit)} items`;
      break;
    case "enum":
      reason = `must be one of ${(params.allowedValues as unknown[]).join(", ")}`;
      break;
    default:
      reason = v.message ?? "is invalid";
  }
  return new ValidationError(path === "" ? (context === "body" ? "body" : context) : path, reason);
}

function jsonPath(instancePath: string): string {
  let path = "";
  for (const raw of instancePath.split("/").slice(1)) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    path = /^\d+$/.test(key) ? `${path}[${key}]` : join(path, key);
  }
  return path;
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function article(type: string): string {
  if (type === "null") return type;
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

export function sendError(reply: FastifyReply, err: OptiqError): FastifyReply {
  const { status, body } = errorReply(err);
  if (err.code === "OPTIQ_UNAUTHORIZED") void reply.header("www-authenticate", 'Bearer realm="optiq"');
  return reply.code(status).type("application/json; charset=utf-8").send(body);
}

/** Every error leaves as the contract's body; anything unexpected is logged and becomes OPTIQ_INTERNAL. */
export function installErrorHandling(server: FastifyInstance, logger: Logger, bodyLimit: number): void {
  server.setErrorHandler((err, request, reply) => {
    const known = toOptiqError(err, request, bodyLimit);
    if (known === null) {
      logger.error({ err, method: request.method, url: pathOf(request.url) }, "request failed");
      return sendError(reply, new InternalError());
    }
    // a job's failure is an answer, not a fault of the server; a store failure is one
    if (known.code === "OPTIQ_STORE") {
      logger.error({ err: known, method: request.method, url: pathOf(request.url) }, "request failed");
    }
    return sendError(reply, known);
  });
  server.setNotFoundHandler((request, reply) =>
    sendError(reply, new RouteNotFoundError(request.method, pathOf(request.url))),
  );
}

/** The URL without its query: a `?token=` must never reach a log. */
export function pathOf(url: string): string {
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}
