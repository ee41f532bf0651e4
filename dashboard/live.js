// @ts-check
// The event stream (`GET /api/events`) and the frame batching that keeps rendering bounded.

/** @typedef {"connecting" | "live" | "reconnecting" | "offline"} ConnectionState */

export const EVENT_NAMES = /** @type {const} */ ([
  "submitted",
  "started",
  "progress",
  "retrying",
  "completed",
  "failed",
  "cancelled",
  "drained",
  "stats",
]);

/** @typedef {(typeof EVENT_NAMES)[number]} EventName */

/**
 * One `EventSource`, reopened after the browser gives up on it (it reconnects by itself while the
 * server answers; a 401 or 503 closes it for good, so we retry on our own, more slowly).
 */
export class LiveConnection {
  /**
   * @param {{
   *   url: string, retryMs?: number,
   *   onEvent: (name: EventName, data: unknown) => void,
   *   onState: (state: ConnectionState) => void,
   *   onReconnected: () => void
   * }} options
   */
  constructor(options) {
    this.options = options;
    /** @type {EventSource | null} */
    this.source = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.retryTimer = null;
    this.interrupted = false;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    this.source?.close();
    this.source = null;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  open() {
    this.options.onState(this.interrupted ? "reconnecting" : "connecting");
    const source = new EventSource(this.options.url);
    this.source = source;
    source.addEventListener("open", () => {
      this.options.onState("live");
      if (this.interrupted) {
        this.interrupted = false;
        this.options.onReconnected();
      }
    });
    source.addEventListener("error", () => {
      if (this.source !== source) return;
      this.interrupted = true;
      if (source.readyState === EventSource.CLOSED) {
        this.options.onState("offline");
        this.source = null;
        if (!this.stopped) this.retryTimer = setTimeout(() => this.open(), this.options.retryMs ?? 5000);
      } else {
        this.options.onState("reconnecting");
      }
    });
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (event) => {
        let data;
        try {
          data = JSON.parse(/** @type {MessageEvent<string>} */ (event).data);
        } catch {
          return;
        }
        this.options.onEvent(name, data);
      });
    }
  }
}

/**
 * Runs `flush` at most once per `intervalMs`, in an animation frame: any number of schedule()
 * calls between two flushes cost one render.
 */
export class FrameBatcher {
  /**
   * @param {() => void} flush
   * @param {number} [intervalMs]
   */
  constructor(flush, intervalMs = 250) {
    this.flush = flush;
    this.intervalMs = intervalMs;
    this.scheduled = false;
    this.lastRun = 0;
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = Math.max(0, this.lastRun + this.intervalMs - performance.now());
    setTimeout(() => {
      // a hidden tab gets no frames: render when it is shown again, with everything coalesced
      requestAnimationFrame(() => {
        this.scheduled = false;
        this.lastRun = performance.now();
        this.flush();
      });
    }, wait);
  }
}
