/** The event hub alone, with sinks that stand in for responses and a fake clock. */
import { afterEach, describe, expect, it } from "vitest";
import { Optiq } from "../../src/index.js";
import { EventHub, KEEP_ALIVE_MS, MAX_BACKLOG_BYTES, type StreamSink } from "../../src/server/event-hub.js";
import { FakeClock, flushPromises } from "../../src/testing.js";
import { capturingLogger } from "../support/helpers.js";
import { trackSubscriptions } from "./helpers.js";

/** A response whose client reads nothing while `stalled` is set: everything written stays unsent. */
class FakeSink implements StreamSink {
  chunks: string[] = [];
  writableLength = 0;
  writableEnded = false;
  destroyed = false;
  stalled = false;

  write(chunk: string): boolean {
    this.chunks.push(chunk);
    if (this.stalled) this.writableLength += Buffer.byteLength(chunk);
    return true;
  }
  end(): void {
    this.writableEnded = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  /** The frames written, by event name ("comment" for a comment line), however they were gathered into writes. */
  events(): string[] {
    const frames = this.chunks.join("").split("\n\n").slice(0, -1);
    return frames.map((f) => (f.startsWith(":") ? "comment" : /^event: (\w+)/.exec(f)![1]!));
  }
}

const queues: Optiq[] = [];
afterEach(async () => {
  for (const q of queues.splice(0)) await q.stop();
});

async function setup(maxStreams = 10) {
  const queue = new Optiq();
  queues.push(queue);
  queue.declare("x");
  queue.define("chatty", (job, ctx) => {
    for (let i = 0; i < (job.input as number); i++) ctx.progress("x".repeat(100_000));
  });
  await queue.start();
  const subscriptions = trackSubscriptions(queue);
  const clock = new FakeClock();
  const logger = capturingLogger();
  const hub = new EventHub({ queue, clock, logger, statsIntervalMs: 1000, maxStreams });
  return { queue, hub, clock, logger, subscriptions };
}

describe("EventHub", () => {
  it("drops a client with more than 1 MiB unsent, and keeps serving the others", async () => {
    const { queue, hub, logger, subscriptions } = await setup();
    const slow = new FakeSink();
    const fast = new FakeSink();
    hub.add(slow);
    hub.add(fast);
    await flushPromises();
    slow.stalled = true;
    const chunk = "x".repeat(100_000);
    const { id } = await queue.submit("chatty", MAX_BACKLOG_BYTES / chunk.length + 1);
    await queue.result(id);
    await flushPromises();
    expect(slow.destroyed).toBe(true);
    expect(hub.size).toBe(1);
    expect(logger.find("event stream: client too slow, disconnected", "warn")).toHaveLength(1);
    const before = fast.events().length;
    await queue.submit("x");
    await flushPromises();
    expect(fast.events().slice(before)).toEqual(["submitted"]);
    expect(subscriptions.count()).toBe(8);
  });

  it("refuses a stream over the limit with OPTIQ_TOO_MANY_STREAMS", async () => {
    const { hub } = await setup(1);
    hub.assertRoom();
    hub.add(new FakeSink());
    expect(() => hub.assertRoom()).toThrow(expect.objectContaining({ code: "OPTIQ_TOO_MANY_STREAMS", limit: 1 }));
  });

  it("shares one stats timer and one keep-alive timer among all streams, and none once they are gone", async () => {
    const { hub, clock, subscriptions } = await setup();
    const a = new FakeSink();
    const b = new FakeSink();
    hub.add(a);
    hub.add(b);
    expect(clock.pending).toBe(2);
    await clock.advance(KEEP_ALIVE_MS);
    expect(clock.pending).toBe(2);
    // the connect-time stats, 15 ticks, one keep-alive
    for (const sink of [a, b]) {
      expect(sink.events().filter((e) => e === "stats")).toHaveLength(16);
      expect(sink.events().filter((e) => e === "comment")).toHaveLength(1);
    }
    hub.remove(a);
    expect(clock.pending).toBe(2);
    hub.remove(b);
    expect(clock.pending).toBe(0);
    expect(subscriptions.count()).toBe(0);
  });

  it("writes the frames of one event-loop turn to each stream in one write, in order", async () => {
    const { queue, hub } = await setup();
    const sink = new FakeSink();
    hub.add(sink);
    await flushPromises();
    const writesBefore = sink.chunks.length;
    await queue.submitMany([{ name: "x" }, { name: "x" }, { name: "x" }]);
    await flushPromises();
    expect(sink.chunks.length).toBe(writesBefore + 1);
    const ids = [...sink.chunks.at(-1)!.matchAll(/"id":"(\d+)"/g)].map((m) => Number(m[1]));
    expect(ids).toHaveLength(3);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it("writes a turn of large events as it grows, never gathering much more than the backlog limit", async () => {
    const { queue, hub } = await setup();
    const sink = new FakeSink();
    hub.add(sink);
    await flushPromises();
    const writesBefore = sink.chunks.length;
    // 30 progress events of 100 kB in one turn: 3 MB
    const { id } = await queue.submit("chatty", 30);
    await queue.result(id);
    await flushPromises();
    const writes = sink.chunks.slice(writesBefore);
    expect(writes.length).toBeGreaterThan(2);
    for (const w of writes) expect(w.length).toBeLessThan(MAX_BACKLOG_BYTES + 200_000);
    expect(sink.events().filter((e) => e === "progress")).toHaveLength(30);
  });

  it("close() destroys a stream whose client stopped reading, rather than wait for its unsent events", async () => {
    const { queue, hub } = await setup();
    const stalled = new FakeSink();
    const reading = new FakeSink();
    hub.add(stalled);
    hub.add(reading);
    await flushPromises();
    stalled.stalled = true;
    await queue.submit("x");
    await flushPromises();
    hub.close();
    expect(stalled).toMatchObject({ writableEnded: true, destroyed: true });
    expect(reading).toMatchObject({ writableEnded: true, destroyed: false });
  });

  it("close() ends every stream, and any stream added afterwards", async () => {
    const { hub, clock, subscriptions } = await setup();
    const a = new FakeSink();
    hub.add(a);
    hub.close();
    expect(a.writableEnded).toBe(true);
    expect(clock.pending).toBe(0);
    expect(subscriptions.count()).toBe(0);
    const late = new FakeSink();
    hub.add(late);
    expect(late.writableEnded).toBe(true);
    expect(hub.size).toBe(0);
  });
});
