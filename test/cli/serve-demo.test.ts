/**
 * examples/serve-demo.ts, the handlers module of `npm start`: it defines the
 * demo's handlers and submits the demo batch into an empty store only.
 */
import { describe, expect, it } from "vitest";
import setup, { options } from "../../examples/serve-demo.js";
import { Optiq } from "../../src/index.js";
import { MemoryStore } from "../../src/testing.js";

describe("examples/serve-demo.ts", () => {
  it("submits the batch into an empty store, and nothing on a restart", async () => {
    const store = new MemoryStore();
    const queue = new Optiq({ ...options, store });
    await setup(queue);
    const counts = await store.counts();
    expect(counts.queued + counts.cancelled).toBe(1004); // 1000 optimize jobs and 4 tune jobs
    expect(counts.cancelled).toBe(5); // the few cancelled while queued
    const gpu = await queue.list({ group: "gpu", limit: 1000 });
    expect(gpu.length).toBeGreaterThan(100);

    const again = new Optiq({ ...options, store });
    await setup(again);
    const after = await store.counts();
    expect(after.queued + after.cancelled).toBe(1004);
    await queue.stop({ graceful: false });
  });
});
