import { JobNotFoundError, ValidationError, WaitTimeoutError } from "../core/errors.js";
import { EventStream } from "./event-stream.js";
import { Transport } from "./http.js";
import type {
  Health,
  HttpSubmitOptions,
  Job,
  JobPage,
  ListFilter,
  OptiqClientOptions,
  RequestOptions,
  ResultOptions,
  Stats,
  SubmitItem,
  Submitted,
} from "./types.js";

const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
/**
 * The longest one result request asks the server to hold. The server caps it
 * further (`maxResultWaitMs`); either way the client asks again until its own
 * deadline, each request waiting server-side for the job to end.
 */
const LONG_POLL_MS = 60_000;

/**
 * A typed client of the optiq HTTP API (docs/http-api.md). Errors are the
 * classes the queue itself throws (JobNotFoundError, ValidationError with
 * its `field`, JobFailedError, ...), rebuilt from the response;
 * ConnectionError when the server cannot be reached, HttpError for the rest.
 */
export class OptiqClient {
  private readonly http: Transport;

  constructor(options: OptiqClientOptions) {
    if (typeof options?.url !== "string") throw new ValidationError("options.url", "must be a URL string");
    try {
      new URL(options.url);
    } catch {
      throw new ValidationError("options.url", `not a valid URL: ${options.url}`);
    }
    const fetchTimeoutMs = options.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
    if (!Number.isFinite(fetchTimeoutMs) || fetchTimeoutMs <= 0) {
      throw new ValidationError("options.fetchTimeoutMs", "must be a positive number of ms");
    }
    this.http = new Transport(options.url, options.token, fetchTimeoutMs);
  }

  /**
   * Submits one job; `created` is false when a job with the same `key` already existed.
   * An aborted `request.signal` rejects with AbortedError; once the request is sent the job may exist anyway.
   */
  submit(name: string, input?: unknown, options?: HttpSubmitOptions, request: RequestOptions = {}): Promise<Submitted> {
    return this.http.json<Submitted>({
      method: "POST",
      path: "/api/jobs",
      body: { name, input, options: wireOptions(options) },
      signal: request.signal,
    });
  }

  /** Submits up to 1000 jobs in one request: all are accepted, or none. */
  async submitMany(items: readonly SubmitItem[]): Promise<Submitted[]> {
    const jobs = items.map((it) => ({ name: it.name, input: it.input, options: wireOptions(it.options) }));
    const body = await this.http.json<{ jobs: Submitted[] }>({
      method: "POST",
      path: "/api/jobs/batch",
      body: { jobs },
    });
    return body.jobs;
  }

  /** A snapshot of the job, or null if the server knows no job with this id. */
  async get<Input = unknown, Result = unknown>(id: string): Promise<Job<Input, Result> | null> {
    try {
      return await this.http.json<Job<Input, Result>>({ method: "GET", path: jobPath(id), ctx: { jobId: id } });
    } catch (err) {
      if (err instanceof JobNotFoundError) return null;
      throw err;
    }
  }

  /** One page of jobs, newest first; pass `next` as `beforeId` for the following page. */
  list(filter: ListFilter = {}, request: RequestOptions = {}): Promise<JobPage> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filter)) {
      if (value !== undefined && value !== null) query.set(key, String(value));
    }
    const qs = query.toString();
    return this.http.json<JobPage>({ method: "GET", path: `/api/jobs${qs ? `?${qs}` : ""}`, signal: request.signal });
  }

  /**
   * The job's result once it completes. Rejects as `Optiq.result()` does:
   * JobFailedError, JobCancelledError, JobNotFoundError, and WaitTimeoutError
   * after `timeoutMs` (the job goes on). Every request waits server-side.
   */
  async result<Result = unknown>(id: string, options: ResultOptions = {}): Promise<Result> {
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs < 0)) {
      throw new ValidationError("options.timeoutMs", "must be a non-negative number of ms");
    }
    const deadline = timeoutMs === undefined ? null : Date.now() + timeoutMs;
    for (;;) {
      const remaining = deadline === null ? LONG_POLL_MS : Math.max(0, deadline - Date.now());
      const holdMs = Math.min(remaining, LONG_POLL_MS);
      try {
        const body = await this.http.json<{ result: Result }>({
          method: "GET",
          path: `${jobPath(id)}/result?timeoutMs=${Math.ceil(holdMs)}`,
          holdMs,
          signal,
          ctx: { jobId: id },
        });
        return body.result;
      } catch (err) {
        if (!(err instanceof WaitTimeoutError)) throw err;
        if (deadline !== null && Date.now() >= deadline) {
          throw new WaitTimeoutError(id, timeoutMs ?? 0, err.state);
        }
      }
    }
  }

  /** true when the job was queued or running (it is being cancelled), false when it had already ended. */
  async cancel(id: string, options: { reason?: string } = {}): Promise<boolean> {
    const body = await this.http.json<{ cancelled: boolean }>({
      method: "POST",
      path: `${jobPath(id)}/cancel`,
      body: options.reason === undefined ? {} : { reason: options.reason },
      ctx: { jobId: id },
    });
    return body.cancelled;
  }

  stats(): Promise<Stats> {
    return this.http.json<Stats>({ method: "GET", path: "/api/stats" });
  }

  /** The server's health; a degraded one (HTTP 503) is an answer here, not an error. */
  health(): Promise<Health> {
    return this.http.json<Health>({ method: "GET", path: "/api/health", answers: [503] });
  }

  /** The live event stream; see EventStream. Abort the signal (or break the loop) to close it. */
  events(signal?: AbortSignal): EventStream {
    const url = this.http.url("/api/events");
    return new EventStream(this.http.stream("/api/events", "text/event-stream", signal), url, signal);
  }
}

function jobPath(id: string): string {
  if (typeof id !== "string" || id === "") throw new ValidationError("id", "must be a non-empty string");
  // encodeURIComponent leaves these as they are, and the URL would resolve them to another path
  if (id === "." || id === "..") throw new ValidationError("id", `"${id}" cannot be a job id`);
  return `/api/jobs/${encodeURIComponent(id)}`;
}

function wireOptions(options: HttpSubmitOptions | undefined): Record<string, unknown> | undefined {
  if (options === undefined) return undefined;
  const { runAt, ...rest } = options;
  return runAt === undefined ? rest : { ...rest, runAt: runAt instanceof Date ? runAt.getTime() : runAt };
}
