import { ConnectionError } from "./errors.js";
import { readSse } from "./sse.js";
import { STREAM_EVENT_NAMES, type StreamEvent } from "./types.js";

/**
 * The events of `GET /api/events`, as an async iterable. The request starts
 * at once; `opened` resolves when the server has accepted the stream, so a
 * caller can subscribe first and act (e.g. submit) after, missing nothing.
 * Iteration ends when the signal aborts, when the loop breaks (the
 * connection is closed) or when the server ends the stream; a dropped
 * connection throws ConnectionError. Events of unknown names are skipped.
 */
export class EventStream implements AsyncIterable<StreamEvent> {
  readonly opened: Promise<void>;
  private consumed = false;

  constructor(
    private readonly response: Promise<Response>,
    private readonly url: string,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.opened = response.then(() => undefined);
    // a caller that only iterates learns of a failed open from the iteration
    this.opened.catch(() => undefined);
  }

  [Symbol.asyncIterator](): AsyncIterator<StreamEvent> {
    if (this.consumed) throw new Error("an EventStream can be iterated once");
    this.consumed = true;
    return this.iterate();
  }

  private async *iterate(): AsyncGenerator<StreamEvent> {
    let res: Response;
    try {
      res = await this.response;
    } catch (err) {
      if (this.signal?.aborted) return;
      throw err;
    }
    if (res.body === null) return;
    const messages = readSse(res.body);
    try {
      for (;;) {
        let next: IteratorResult<{ event: string; data: string }>;
        try {
          next = await messages.next();
        } catch (err) {
          if (this.signal?.aborted) return;
          throw new ConnectionError(`the event stream from ${this.url} dropped`, this.url, { cause: err });
        }
        if (next.done) return;
        const { event, data } = next.value;
        if (!STREAM_EVENT_NAMES.has(event)) continue;
        yield { event, data: parseData(data, event, this.url) } as StreamEvent;
      }
    } finally {
      // closes the connection when the caller stops early
      await messages.return(undefined).catch(() => undefined);
    }
  }
}

function parseData(data: string, event: string, url: string): unknown {
  try {
    return JSON.parse(data) as unknown;
  } catch (err) {
    throw new ConnectionError(`the event stream from ${url} sent ${event} data that is not JSON`, url, { cause: err });
  }
}
