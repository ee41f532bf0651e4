import type { FastifyInstance } from "fastify";
import type { Optiq } from "../../src/optiq.js";
export { deferred, type Deferred } from "../support/helpers.js";

/**
 * Counts the queue's live event subscriptions made through `on()` from now
 * on, and resolves `drained()` when none is left: how a test sees that a
 * closed stream let go of the queue.
 */
export function trackSubscriptions(queue: Optiq): { count(): number; drained(): Promise<void> } {
  const live = new Set<object>();
  let waiters: (() => void)[] = [];
  const on = queue.on.bind(queue);
  queue.on = ((event, listener) => {
    const token = {};
    live.add(token);
    const off = on(event, listener);
    return () => {
      off();
      if (!live.delete(token) || live.size > 0) return;
      for (const w of waiters) w();
      waiters = [];
    };
  }) as Optiq["on"];
  return {
    count: () => live.size,
    drained: () => (live.size === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
  };
}

export interface SseMessage {
  /** The `event:` name, or "comment" for a `:` line. */
  event: string;
  data: unknown;
}

/** Reads a `text/event-stream` fetch body message by message. */
export class SseReader {
  private readonly reader: ReadableStreamDefaultReader<string>;
  private buffer = "";
  private readonly queued: SseMessage[] = [];
  ended = false;

  constructor(response: Response) {
    this.reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next message, or null once the stream has ended. */
  async next(): Promise<SseMessage | null> {
    for (;;) {
      const message = this.queued.shift();
      if (message) return message;
      if (this.ended) return null;
      const { value, done } = await this.reader.read();
      if (done) this.ended = true;
      else this.parse(value);
    }
  }

  /** The next message satisfying `match`, skipping others; throws if the stream ends first. */
  async until(match: (m: SseMessage) => boolean): Promise<SseMessage> {
    for (;;) {
      const m = await this.next();
      if (m === null) throw new Error("the event stream ended");
      if (match(m)) return m;
    }
  }

  /** Resolves once the server has ended the stream (skipping what is left). */
  async end(): Promise<void> {
    while ((await this.next()) !== null);
  }

  cancel(): Promise<void> {
    return this.reader.cancel();
  }

  private parse(chunk: string): void {
    this.buffer += chunk;
    let cut: number;
    while ((cut = this.buffer.indexOf("\n\n")) !== -1) {
      const block = this.buffer.slice(0, cut);
      this.buffer = this.buffer.slice(cut + 2);
      let event = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) {
          event = "comment";
          data = line.slice(1).trim();
        } else if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      this.queued.push({ event, data: event === "comment" ? data : JSON.parse(data) });
    }
  }
}

/** Listens on an ephemeral port of 127.0.0.1 and returns the base URL. */
export async function listen(server: FastifyInstance): Promise<string> {
  return server.listen({ port: 0, host: "127.0.0.1" });
}
