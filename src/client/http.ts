import { AbortedError, OptiqError } from "../core/errors.js";
import { ConnectionError, HttpError } from "./errors.js";
import { rehydrate, type RequestContext } from "./rehydrate.js";

export interface JsonRequest {
  method: "GET" | "POST";
  /** Path and query, from the root: "/api/jobs?limit=5". */
  path: string;
  body?: unknown;
  /** How long the server is asked to hold the request (a result wait), on top of the fetch timeout. */
  holdMs?: number;
  signal?: AbortSignal | undefined;
  ctx?: RequestContext;
  /** Error statuses whose body is an answer, not an error (health's 503). */
  answers?: readonly number[];
}

/** fetch with the token, a deadline, and every failure turned into an OptiqError. */
export class Transport {
  private readonly base: string;

  constructor(
    url: string,
    private readonly token: string | undefined,
    private readonly fetchTimeoutMs: number,
  ) {
    this.base = url.endsWith("/") ? url : `${url}/`;
  }

  url(path: string): string {
    return new URL(path.replace(/^\//, ""), this.base).href;
  }

  async json<T>(req: JsonRequest): Promise<T> {
    const url = this.url(req.path);
    const limitMs = this.fetchTimeoutMs + (req.holdMs ?? 0);
    return this.guarded(url, limitMs, req.signal, async (signal) => {
      const headers: Record<string, string> = { accept: "application/json", ...this.auth() };
      if (req.body !== undefined) headers["content-type"] = "application/json";
      const res = await fetch(url, {
        method: req.method,
        headers,
        body: req.body === undefined ? null : JSON.stringify(req.body),
        signal,
      });
      const body = parseBody(await res.text());
      const answer = (req.answers ?? []).includes(res.status) && !hasErrorObject(body);
      if (!res.ok && !answer) throw rehydrate(res.status, body, req.ctx);
      if (typeof body === "string") {
        throw new HttpError(res.status, null, `HTTP ${res.status}: expected a JSON body from ${url}`, body);
      }
      return body as T;
    });
  }

  /**
   * Opens a streaming GET; the deadline covers only the wait for its headers.
   * The body reads under the caller's signal alone, whose listener goes away
   * when the body ends, fails or is cancelled: a long-lived signal passed to
   * many streams does not collect their listeners.
   */
  async stream(path: string, accept: string, signal: AbortSignal | undefined): Promise<Response> {
    const url = this.url(path);
    return this.guarded(url, this.fetchTimeoutMs, signal, async (timed) => {
      // the body outlives the deadline: it reads under the caller's signal alone
      const inner = new AbortController();
      const forward = (): void => inner.abort(timed.reason);
      timed.addEventListener("abort", forward, { once: true });
      let res: Response;
      try {
        res = await fetch(url, { headers: { accept, ...this.auth() }, signal: inner.signal });
      } finally {
        timed.removeEventListener("abort", forward);
      }
      if (!res.ok) throw rehydrate(res.status, parseBody(await res.text()));
      if (signal === undefined || res.body === null) return res;
      if (signal.aborted) {
        inner.abort(signal.reason);
        return res;
      }
      const onAbort = (): void => inner.abort(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      return withBodyEnd(res, () => signal.removeEventListener("abort", onAbort));
    });
  }

  private auth(): Record<string, string> {
    return this.token === undefined ? {} : { authorization: `Bearer ${this.token}` };
  }

  private async guarded<T>(
    url: string,
    limitMs: number,
    signal: AbortSignal | undefined,
    run: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (signal?.aborted) throw new AbortedError();
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, limitMs);
    const onAbort = (): void => ac.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await run(ac.signal);
    } catch (err) {
      if (err instanceof OptiqError) throw err;
      if (timedOut) throw new ConnectionError(`no answer from ${url} within ${limitMs} ms`, url, { cause: err });
      if (signal?.aborted) throw new AbortedError("aborted by the caller", { cause: err });
      throw new ConnectionError(`cannot reach ${url}: ${describeFetchError(err)}`, url, { cause: err });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

/** The same response, its body calling `release` once when it ends, fails or is cancelled. */
function withBodyEnd(res: Response, release: () => void): Response {
  const reader = res.body!.getReader();
  let released = false;
  const done = (): void => {
    if (released) return;
    released = true;
    release();
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await reader.read();
        if (next.done) {
          done();
          controller.close();
        } else {
          controller.enqueue(next.value);
        }
      } catch (err) {
        done();
        controller.error(err);
      }
    },
    async cancel(reason) {
      done();
      await reader.cancel(reason);
    },
  });
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

function parseBody(text: string): unknown {
  if (text === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function hasErrorObject(body: unknown): boolean {
  return typeof body !== "object" || body === null || "error" in body;
}

/** fetch's own message is "fetch failed"; the reason (ECONNREFUSED, ...) is in its cause. */
function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message;
  return err instanceof Error ? err.message : String(err);
}
