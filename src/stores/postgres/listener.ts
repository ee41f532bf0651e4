import type pg from "pg";
import type { StoreListener } from "../../store/port.js";
import { toStoreError } from "./errors.js";
import { quoteIdent } from "./identifiers.js";

export interface Channels {
  readonly available: string;
  readonly finished: string;
  readonly cancel: string;
}

export function channelsOf(schema: string): Channels {
  return { available: `${schema}_available`, finished: `${schema}_finished`, cancel: `${schema}_cancel` };
}

const RECONNECT_MIN_MS = 50;
const RECONNECT_MAX_MS = 5_000;

/**
 * One dedicated connection doing LISTEN on the schema's channels, shared by
 * every subscriber of a store. start() resolves once the server acknowledged
 * the LISTENs. If the connection drops it reconnects with exponential backoff
 * and then calls every subscriber's onAvailable() and onResync() once, since
 * notifications may have been missed meanwhile. A polling timer (unref'ed) calls onAvailable() every
 * pollIntervalMs as a backstop. No error ever escapes as an unhandled event.
 */
export class NotificationListener {
  private readonly listeners = new Set<StoreListener>();
  private client: pg.Client | null = null;
  private starting: Promise<void> | null = null;
  private generation = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelay = RECONNECT_MIN_MS;
  private pollTimer: NodeJS.Timeout | null = null;
  private running = false;
  private missedWakeups = false;
  /** Times the connection was re-established after a drop (for tests and health). */
  reconnects = 0;

  constructor(
    private readonly makeClient: () => pg.Client,
    private readonly channels: Channels,
    private readonly pollIntervalMs: number,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  get size(): number {
    return this.listeners.size;
  }

  /** The backend pid of the live LISTEN connection, if any. */
  get pid(): number | null {
    return (this.client as unknown as { processID?: number } | null)?.processID ?? null;
  }

  /** Adds a subscriber; resolves once LISTEN is live. */
  async add(listener: StoreListener): Promise<void> {
    this.listeners.add(listener);
    try {
      await this.ensureStarted();
    } catch (error) {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) await this.stop();
      else this.scheduleReconnect();
      throw toStoreError("subscribe", error);
    }
  }

  /** Removes a subscriber; the connection is closed when none is left. */
  async remove(listener: StoreListener): Promise<void> {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) await this.stop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.generation++;
    this.listeners.clear();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.reconnectTimer = null;
    this.pollTimer = null;
    this.starting = null;
    const client = this.client;
    this.client = null;
    this.reconnectDelay = RECONNECT_MIN_MS;
    this.missedWakeups = false;
    if (client) await client.end().catch(() => undefined);
  }

  private ensureStarted(): Promise<void> {
    if (this.client && this.running) return Promise.resolve();
    if (this.starting) return this.starting;
    this.running = true;
    this.startPolling();
    if (this.reconnectTimer) {
      // a reconnect is pending: connect now, this caller waits for it
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    const starting = this.connect().finally(() => {
      if (this.starting === starting) this.starting = null;
    });
    this.starting = starting;
    return starting;
  }

  private startPolling(): void {
    if (this.pollTimer || !(this.pollIntervalMs > 0) || !Number.isFinite(this.pollIntervalMs)) return;
    this.pollTimer = setInterval(() => this.emitAvailable(), this.pollIntervalMs);
    this.pollTimer.unref();
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    const client = this.makeClient();
    const dropped = (error?: unknown): void => {
      if (error !== undefined) this.onError(error);
      this.handleDrop(generation, client);
    };
    client.on("error", dropped);
    client.on("end", () => dropped());
    client.on("notification", (message) => {
      if (generation === this.generation) this.dispatch(message.channel, message.payload);
    });
    try {
      await client.connect();
      const { available, finished, cancel } = this.channels;
      await client.query(
        `LISTEN ${quoteIdent(available)}; LISTEN ${quoteIdent(finished)}; LISTEN ${quoteIdent(cancel)}`,
      );
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    if (generation !== this.generation || !this.running) {
      // stopped (or superseded) while connecting
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.reconnectDelay = RECONNECT_MIN_MS;
    if (this.missedWakeups) {
      // notifications may have been missed while the connection was down
      this.missedWakeups = false;
      this.reconnects++;
      this.emitAvailable();
      for (const l of [...this.listeners]) safely(() => l.onResync?.());
    }
  }

  private handleDrop(generation: number, client: pg.Client): void {
    if (generation !== this.generation || !this.running) return;
    if (this.client !== client) return; // a failed connect attempt: its caller handles the error
    this.client = null;
    this.generation++;
    this.missedWakeups = true;
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || !this.running) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.running) return;
      const attempt = this.connect();
      this.starting = attempt;
      attempt.then(
        () => {
          if (this.starting === attempt) this.starting = null;
        },
        (error: unknown) => {
          if (this.starting === attempt) this.starting = null;
          this.onError(error);
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  private dispatch(channel: string, payload: string | undefined): void {
    if (channel === this.channels.available) {
      this.emitAvailable();
      return;
    }
    const ids = payload ? payload.split(",") : [];
    if (ids.length === 0) return;
    if (channel === this.channels.finished) {
      for (const l of [...this.listeners]) safely(() => l.onFinished?.(ids));
    } else if (channel === this.channels.cancel) {
      for (const l of [...this.listeners]) safely(() => l.onCancelRequested?.(ids));
    }
  }

  private emitAvailable(): void {
    for (const l of [...this.listeners]) safely(() => l.onAvailable?.());
  }
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // a listener's failure is its own; it must not stop delivery to the others
  }
}
