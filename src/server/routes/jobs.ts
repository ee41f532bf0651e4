import type { FastifyInstance } from "fastify";
import { JobNotFoundError, ValidationError } from "../../core/errors.js";
import type { SubmitOptions } from "../../core/definition.js";
import { JOB_STATES, type JobState } from "../../core/states.js";
import type { Optiq, SubmitManyItem } from "../../optiq.js";
import { renameField } from "../errors.js";

export const MAX_BATCH = 1000;

/**
 * The submit options that can cross HTTP. `ifFull`, `waitTimeoutMs` and
 * `signal` belong to an in-process caller; a custom backoff function cannot
 * be sent. Their values are checked by the library, which names the field.
 */
const HTTP_SUBMIT_OPTIONS = ["priority", "delayMs", "runAt", "timeoutMs", "maxAttempts", "backoff", "key", "group"];

const anyValue = {};
const jobSchema = {
  type: "object",
  properties: {
    name: anyValue,
    input: anyValue,
    options: {
      type: "object",
      properties: Object.fromEntries(HTTP_SUBMIT_OPTIONS.map((k) => [k, anyValue])),
      additionalProperties: false,
    },
  },
  additionalProperties: false,
} as const;

const batchSchema = {
  type: "object",
  required: ["jobs"],
  properties: { jobs: { type: "array", maxItems: MAX_BATCH, items: jobSchema } },
  additionalProperties: false,
} as const;

const idParams = { type: "object", properties: { id: { type: "string" } } } as const;

const listQuery = {
  type: "object",
  properties: {
    state: { type: "string", enum: JOB_STATES },
    name: { type: "string" },
    group: { type: "string" },
    beforeId: { type: "string" },
    limit: { type: "string" },
  },
  additionalProperties: false,
} as const;

const resultQuery = {
  type: "object",
  properties: { timeoutMs: { type: "string" } },
  additionalProperties: false,
} as const;

const cancelBody = {
  type: ["object", "null"],
  properties: { reason: anyValue },
  additionalProperties: false,
} as const;

interface SubmitBody {
  name: string;
  input?: unknown;
  options?: SubmitOptions;
}

export interface JobRoutesOptions {
  queue: Optiq;
  maxResultWaitMs: number;
  /** Rejects when the server closes, so a long result wait does not hold the close up. */
  closing: Promise<never>;
}

export function jobRoutes(api: FastifyInstance, { queue, maxResultWaitMs, closing }: JobRoutesOptions): void {
  api.post<{ Body: SubmitBody | undefined }>("/api/jobs", { schema: { body: jobSchema } }, async (request, reply) => {
    const { name, input, options } = request.body ?? ({} as Partial<SubmitBody>);
    const submitted = await queue.submit(name as string, input, options ?? {});
    return reply.code(submitted.created ? 201 : 200).send(submitted);
  });

  api.post<{ Body: { jobs: SubmitManyItem[] } }>(
    "/api/jobs/batch",
    { schema: { body: batchSchema } },
    async (request, reply) => {
      try {
        const jobs = await queue.submitMany(request.body.jobs);
        return reply.code(201).send({ jobs });
      } catch (err) {
        throw renameField(err, (field) => field.replace(/^items\[/, "jobs["));
      }
    },
  );

  api.get<{ Querystring: { state?: JobState; name?: string; group?: string; beforeId?: string; limit?: string } }>(
    "/api/jobs",
    { schema: { querystring: listQuery } },
    async (request) => {
      const { limit: rawLimit, ...filter } = request.query;
      // a non-numeric limit goes through as is, for the library to reject naming `limit`
      const limit = rawLimit === undefined ? 50 : /^\d+$/.test(rawLimit) ? Number(rawLimit) : rawLimit;
      const jobs = await queue.list({ ...filter, limit: limit as number });
      return { jobs, next: await nextPage(queue, filter, jobs, limit as number) };
    },
  );

  api.get<{ Params: { id: string } }>("/api/jobs/:id", { schema: { params: idParams } }, async (request) => {
    const job = await queue.get(request.params.id);
    if (job === null) throw new JobNotFoundError(request.params.id);
    return job;
  });

  api.get<{ Params: { id: string }; Querystring: { timeoutMs?: string } }>(
    "/api/jobs/:id/result",
    { schema: { params: idParams, querystring: resultQuery } },
    async (request, reply) => {
      const { id } = request.params;
      const asked = waitOf(request.query.timeoutMs, maxResultWaitMs);
      // a client that goes away takes its waiter with it, rather than leaving it until its timeout
      const gone = new AbortController();
      reply.raw.once("close", () => gone.abort());
      const result = await Promise.race([queue.result(id, { timeoutMs: asked, signal: gone.signal }), closing]);
      return { id, result: result === undefined ? null : result };
    },
  );

  api.post<{ Params: { id: string }; Body: { reason?: string } | null | undefined }>(
    "/api/jobs/:id/cancel",
    { schema: { params: idParams, body: cancelBody } },
    async (request) => {
      const reason = request.body?.reason;
      try {
        const cancelled = await queue.cancel(request.params.id, reason === undefined ? {} : { reason });
        return { cancelled };
      } catch (err) {
        throw renameField(err, (field) => (field === "options.reason" ? "reason" : field));
      }
    },
  );
}

function waitOf(raw: string | undefined, max: number): number {
  if (raw === undefined) return max;
  if (!/^\d+$/.test(raw))
    throw new ValidationError("timeoutMs", `must be a whole number of ms, got ${JSON.stringify(raw)}`);
  return Math.min(Number(raw), max);
}

/** The next page's `beforeId`, or null when no older job matches: a full page is not proof that more exist. */
async function nextPage(
  queue: Optiq,
  filter: { state?: JobState; name?: string; group?: string },
  page: readonly { id: string }[],
  limit: number,
): Promise<string | null> {
  const last = page.at(-1);
  if (last === undefined || page.length < limit) return null;
  const older = await queue.list({ ...filter, beforeId: last.id, limit: 1 });
  return older.length > 0 ? last.id : null;
}
