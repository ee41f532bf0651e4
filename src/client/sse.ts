/** One dispatched server-sent event. `event` is "message" when the stream named none. */
export interface SseMessage {
  event: string;
  data: string;
  id: string | null;
}

/**
 * An incremental parser of the `text/event-stream` format (the WHATWG
 * rules): lines end in CRLF, LF or CR; a line starting with ":" is a comment;
 * `data:` lines accumulate, joined by "\n"; a blank line dispatches the event
 * (none when no data was given); one space after the colon is dropped.
 * Chunks may split the text anywhere, even between the CR and LF of one line end.
 */
export class SseParser {
  private buffer = "";
  /** The previous chunk ended in CR: a LF opening the next one belongs to that line end. */
  private afterCr = false;
  private started = false;
  private eventType = "";
  private data: string[] = [];
  private lastId: string | null = null;

  push(chunk: string): SseMessage[] {
    // nothing to parse, and the state of a line end cut after its CR must survive it
    if (chunk === "") return [];
    if (!this.started && chunk.length > 0) {
      this.started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    if (this.afterCr && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.afterCr = false;
    this.buffer += chunk;
    const out: SseMessage[] = [];
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(this.buffer.slice(start, i), out);
      if (c === 13) {
        if (i + 1 === this.buffer.length) this.afterCr = true;
        else if (this.buffer.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  private line(line: string, out: SseMessage[]): void {
    if (line === "") {
      this.dispatch(out);
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      default:
        // "retry" and unknown fields: reconnection is the caller's business
        break;
    }
  }

  private dispatch(out: SseMessage[]): void {
    if (this.data.length > 0) {
      out.push({ event: this.eventType || "message", data: this.data.join("\n"), id: this.lastId });
    }
    this.eventType = "";
    this.data = [];
  }
}

/** The messages of a byte stream, decoded as UTF-8 (a character split across chunks included). */
export async function* readSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder("utf-8");
  const parser = new SseParser();
  for await (const bytes of body) {
    yield* parser.push(decoder.decode(bytes, { stream: true }));
  }
  // an event not closed by a blank line when the stream ends is discarded, as the format says
  parser.push(decoder.decode());
}
