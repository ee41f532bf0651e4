// @ts-check
// The dashboard's HTTP client: the routes of docs/http-api.md, with the page's token.

/** @typedef {"queued" | "running" | "completed" | "failed" | "cancelled"} JobState */
/** @typedef {{ name: string, message: string, code?: string, stack?: string, cause?: SerializedError }} SerializedError */
/** @typedef {{ attempt: number, at: number, error: SerializedError }} AttemptError */
/**
 * A job snapshot, as `GET /api/jobs/:id` returns it (`result` is absent until it completes).
 * @typedef {{
 *   id: string, name: string, state: JobState, priority: number, input?: unknown, result?: unknown,
 *   error: SerializedError | null, attempt: number, maxAttempts: number, errors: AttemptError[],
 *   progress: unknown, checkpoint: unknown, key: string | null, group: string | null,
 *   timeoutMs: number | null, createdAt: number, runAt: number, startedAt: number | null,
 *   finishedAt: number | null, lastProgressAt: number | null, leaseOwner: string | null,
 *   leaseExpiresAt?: number | null, cancelRequested: boolean, cancelReason: string | null
 * }} Job
 */
/** @typedef {{ p50: number | null, p95: number | null }} Quantiles */
/**
 * @typedef {{
 *   counts: Record<JobState, number>, running: number, capacity: number, utilization: number,
 *   totals: { submitted: number, started: number, completed: number, failed: number, retried: number,
 *             cancelled: number, rejected: number },
 *   throughputPerSecond: number, queueWaitMs: Quantiles, runTimeMs: Quantiles
 * }} Stats
 */
/** @typedef {{ kind: string, message: string, jobId?: string, name?: string, ageMs?: number }} HealthIssue */
/** @typedef {{ status: "healthy" | "degraded", issues: HealthIssue[], running: boolean }} Health */
/** @typedef {{ jobs: Job[], next: string | null }} JobPage */
/** @typedef {{ state?: JobState | "", name?: string, beforeId?: string | null, limit?: number }} ListQuery */

/** @type {readonly JobState[]} */
export const JOB_STATES = ["queued", "running", "completed", "failed", "cancelled"];

/** An error answer of the API (or a network failure, status 0). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }

  get unauthorized() {
    return this.status === 401;
  }
}

export class Api {
  /**
   * @param {string} baseUrl the page's URL; API paths resolve against it, so the dashboard works under a path prefix
   * @param {string | null} token sent as `Authorization: Bearer` and, for the event stream, as `?token=`
   */
  constructor(baseUrl, token) {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  /** @param {string} href */
  static fromPage(href) {
    const token = new URL(href).searchParams.get("token");
    return new Api(href, token === null || token === "" ? null : token);
  }

  /**
   * @param {string} path relative, e.g. "api/jobs"
   * @param {Record<string, string | number | null | undefined>} [query]
   */
  url(path, query = {}) {
    const url = new URL(path, this.baseUrl);
    url.search = "";
    url.hash = "";
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  /**
   * @param {string} method
   * @param {string} url
   * @param {{ body?: unknown, accept?: number[] }} [options] `accept`: non-2xx statuses whose body is still the answer
   * @returns {Promise<unknown>}
   */
  async request(method, url, options = {}) {
    /** @type {Record<string, string>} */
    const headers = { accept: "application/json" };
    if (this.token !== null) headers.authorization = `Bearer ${this.token}`;
    /** @type {RequestInit} */
    const init = { method, headers, cache: "no-store" };
    if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      throw new ApiError(0, "NETWORK", `cannot reach the server (${err instanceof Error ? err.message : String(err)})`);
    }
    /** @type {unknown} */
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (response.ok || (options.accept ?? []).includes(response.status)) return body;
    const error = /** @type {{ error?: { code?: unknown, message?: unknown } } | null} */ (body)?.error;
    throw new ApiError(
      response.status,
      typeof error?.code === "string" ? error.code : `HTTP_${response.status}`,
      typeof error?.message === "string" ? error.message : `${method} ${new URL(url).pathname}: ${response.status}`,
    );
  }

  /**
   * @param {ListQuery} query
   * @returns {Promise<JobPage>}
   */
  async listJobs(query) {
    const url = this.url("api/jobs", {
      state: query.state,
      name: query.name,
      beforeId: query.beforeId,
      limit: query.limit,
    });
    return /** @type {JobPage} */ (await this.request("GET", url));
  }

  /**
   * @param {string} id
   * @returns {Promise<Job>}
   */
  async getJob(id) {
    return /** @type {Job} */ (await this.request("GET", this.url(`api/jobs/${encodeURIComponent(id)}`)));
  }

  /**
   * @param {string} id
   * @returns {Promise<boolean>} whether the job was queued or running (and so is now cancelled or stopping)
   */
  async cancelJob(id) {
    const url = this.url(`api/jobs/${encodeURIComponent(id)}/cancel`);
    const body = /** @type {{ cancelled: boolean }} */ (
      await this.request("POST", url, { body: { reason: "cancelled from the dashboard" } })
    );
    return body.cancelled;
  }

  /** @returns {Promise<Stats>} */
  async stats() {
    return /** @type {Stats} */ (await this.request("GET", this.url("api/stats")));
  }

  /** @returns {Promise<Health>} a degraded queue answers 503 with the same body */
  async health() {
    const body = /** @type {Health | { error?: unknown } | null} */ (
      await this.request("GET", this.url("api/health"), { accept: [503] })
    );
    if (body === null || !("status" in body)) throw new ApiError(503, "HTTP_503", "health: unavailable");
    return body;
  }

  /** The event stream's URL: `EventSource` cannot send headers, so the token rides in the query. */
  eventsUrl() {
    return this.url("api/events", { token: this.token });
  }
}
