import type { SubmitOptions } from "../core/definition.js";
import type { Job } from "../core/job.js";
import { EVENT_NAMES, type OptiqEvents } from "../core/events.js";
import type { JobState } from "../core/states.js";
import type { Stats } from "../stats-snapshot.js";

export type { Health, HealthIssue } from "../health.js";
export type { Job, JobState, Stats };

export interface OptiqClientOptions {
  /** The server's base URL, e.g. "http://127.0.0.1:8080". */
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * How long one request may take before it fails with ConnectionError:
   * connecting and answering, not counting the time a result wait is asked
   * to last. Default 30 s.
   */
  fetchTimeoutMs?: number;
}

/**
 * The `submit` options that can cross HTTP: `ifFull`, `waitTimeoutMs` and
 * `signal` belong to an in-process caller.
 */
export type HttpSubmitOptions = Pick<
  SubmitOptions,
  "priority" | "delayMs" | "runAt" | "timeoutMs" | "maxAttempts" | "backoff" | "key" | "group"
>;

export interface SubmitItem {
  name: string;
  input?: unknown;
  options?: HttpSubmitOptions;
}

export interface Submitted {
  id: string;
  created: boolean;
}

export interface ListFilter {
  state?: JobState;
  name?: string;
  group?: string;
  /** The `next` of the previous page. */
  beforeId?: string;
  /** 1–1000, default 50. */
  limit?: number;
}

export interface JobPage {
  /** Newest first. */
  jobs: Job[];
  /** The `beforeId` of the following page; null when this was the last. */
  next: string | null;
}

/** Per-request options of the client's calls. */
export interface RequestOptions {
  /** Abort the request: it rejects with AbortedError. */
  signal?: AbortSignal;
}

export interface ResultOptions {
  /** Give up after this long with WaitTimeoutError. Default: wait until the job ends. */
  timeoutMs?: number;
  /** Stop waiting (AbortedError) when it aborts. */
  signal?: AbortSignal;
}

/** The data of each event on `GET /api/events`. `completed` carries no result (read it with `get`). */
export interface StreamEvents {
  submitted: OptiqEvents["submitted"];
  started: OptiqEvents["started"];
  progress: OptiqEvents["progress"];
  retrying: OptiqEvents["retrying"];
  completed: Omit<OptiqEvents["completed"], "result">;
  failed: OptiqEvents["failed"];
  cancelled: OptiqEvents["cancelled"];
  drained: OptiqEvents["drained"];
  stats: Stats;
}

export type StreamEventName = keyof StreamEvents;

/** One event of the stream, narrowed by `event`. */
export type StreamEvent = { [E in StreamEventName]: { event: E; data: StreamEvents[E] } }[StreamEventName];

export const STREAM_EVENT_NAMES: ReadonlySet<string> = new Set<StreamEventName>([...EVENT_NAMES, "stats"]);
