/**
 * The client's SSE parser: the WHATWG event-stream rules, whatever the chunking.
 */
import { describe, expect, it } from "vitest";
import { readSse, SseParser, type SseMessage } from "../../src/client/sse.js";

function parseAll(chunks: readonly string[]): SseMessage[] {
  const parser = new SseParser();
  return chunks.flatMap((c) => parser.push(c));
}

/** Every way of cutting `text` in two, and in single characters. */
function splits(text: string): string[][] {
  const out: string[][] = [[text], [...text]];
  for (let i = 1; i < text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  return out;
}

const STREAM =
  ": connected\n\n" +
  'event: started\ndata: {"id":"1"}\n\n' +
  'event: progress\r\ndata: {"id":"1",\r\ndata: "p":0.5}\r\n\r\n' +
  ":keep-alive\r\r" +
  'event: completed\rdata:{"id":"1"}\r\r' +
  "data: plain\n\n";

const EXPECTED: SseMessage[] = [
  { event: "started", data: '{"id":"1"}', id: null },
  { event: "progress", data: '{"id":"1",\n"p":0.5}', id: null },
  { event: "completed", data: '{"id":"1"}', id: null },
  { event: "message", data: "plain", id: null },
];

describe("SseParser", () => {
  it("parses LF, CRLF and CR line ends, multi-line data and comments", () => {
    expect(parseAll([STREAM])).toEqual(EXPECTED);
  });

  it("gives the same messages however the text is cut into chunks", () => {
    for (const chunks of splits(STREAM)) expect(parseAll(chunks)).toEqual(EXPECTED);
  });

  it("treats a CR at a chunk's end and a LF opening the next as one line end", () => {
    expect(parseAll(["data: a\r", "\ndata: b\r", "\n\r", "\n"])).toEqual([
      { event: "message", data: "a\nb", id: null },
    ]);
  });

  it("an empty chunk between a CR and its LF changes nothing", () => {
    const expected = [{ event: "message", data: "a\nb", id: null }];
    expect(parseAll(["data: a\r", "", "\ndata: b\n\n"])).toEqual(expected);
    expect(parseAll(["data: a\r", "", "", "\ndata: b\n\n"])).toEqual(expected);
  });

  it("dispatches nothing for a blank line without data, and resets the event name after each dispatch", () => {
    expect(parseAll(["event: lonely\n\n", "data: x\n\n"])).toEqual([{ event: "message", data: "x", id: null }]);
  });

  it("drops one space after the colon only, keeps empty data lines, and takes a field without a colon", () => {
    expect(parseAll(["data:  two spaces\ndata\ndata:\n\n"])).toEqual([
      { event: "message", data: " two spaces\n\n", id: null },
    ]);
  });

  it("keeps the last event id, ignores unknown fields and retry, strips a leading BOM", () => {
    expect(parseAll(["\ufeffid: 7\nretry: 100\nfoo: bar\nevent: e\ndata: d\n\n"])).toEqual([
      { event: "e", data: "d", id: "7" },
    ]);
  });

  it("holds an unfinished event until its blank line arrives", () => {
    const parser = new SseParser();
    expect(parser.push("event: started\ndata: {}")).toEqual([]);
    expect(parser.push("\n")).toEqual([]);
    expect(parser.push("\n")).toEqual([{ event: "started", data: "{}", id: null }]);
  });
});

describe("readSse", () => {
  async function* bytes(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
    yield* chunks;
  }

  it("decodes UTF-8 characters split across byte chunks", async () => {
    const encoded = new TextEncoder().encode('event: progress\ndata: {"label":"naïve – ✓"}\n\n');
    const chunks = [...encoded].map((b) => Uint8Array.of(b)); // every byte its own chunk
    const out: SseMessage[] = [];
    for await (const m of readSse(bytes(chunks))) out.push(m);
    expect(out).toEqual([{ event: "progress", data: '{"label":"naïve – ✓"}', id: null }]);
  });

  it("an empty byte chunk between a CR and its LF changes nothing", async () => {
    const enc = new TextEncoder();
    const chunks = [enc.encode("data: a\r"), new Uint8Array(0), enc.encode("\ndata: b\n\n")];
    const out: SseMessage[] = [];
    for await (const m of readSse(bytes(chunks))) out.push(m);
    expect(out).toEqual([{ event: "message", data: "a\nb", id: null }]);
  });

  it("discards an event the stream ends in the middle of", async () => {
    const out: SseMessage[] = [];
    for await (const m of readSse(bytes([new TextEncoder().encode("data: a\n\ndata: cut")]))) out.push(m);
    expect(out).toEqual([{ event: "message", data: "a", id: null }]);
  });
});
