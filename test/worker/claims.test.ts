/**
 * When the worker asks the store for work: after every sign of new work, and
 * after a freed slot only if the store may still hold runnable jobs for it.
 */
import { describe, expect, it } from "vitest";
import { Optiq, type ClaimParams, type ClaimResult } from "../../src/index.js";
import { MemoryStore } from "../../src/testing.js";

class CountingStore extends MemoryStore {
  claims = 0;
  /** While set, a claim's answer is held back until it resolves. */
  gate: Promise<void> | null = null;

  override async claim(params: ClaimParams): Promise<ClaimResult> {
    this.claims++;
    const result = await super.claim(params);
    if (this.gate) await this.gate;
    return result;
  }
}

describe("claims", () => {
  it("a finished job costs no claim when the store had nothing more to give", async () => {
    const store = new CountingStore();
    const q = new Optiq({ store, concurrency: 4 });
    q.define("job", (job) => job.input);
    await q.start();
    const before = store.claims;
    for (let i = 0; i < 20; i++) {
      const drained = new Promise<void>((resolve) => {
        const off = q.on("drained", () => {
          off();
          resolve();
        });
      });
      const { id } = await q.submit("job", i);
      expect(await q.result(id)).toBe(i);
      await drained; // the worker is idle again before the next submission
    }
    // one claim per submission; one after each finished job too would make it 40
    expect(store.claims - before).toBe(20);
    await q.stop();
  });

  it("still claims after each finished job while the store holds more work than the slots", async () => {
    const store = new CountingStore();
    const q = new Optiq({ store, concurrency: 2 });
    q.define("job", (job) => job.input);
    const subs = await q.submitMany(Array.from({ length: 10 }, (_, i) => ({ name: "job", input: i })));
    await q.start();
    expect(await Promise.all(subs.map((s) => q.result(s.id)))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await q.stop();
  });

  it("loses no wake-up: a job submitted while a claim that finds nothing is in flight still runs", async () => {
    const store = new CountingStore();
    const q = new Optiq({ store });
    q.define("job", (job) => job.input);
    await q.start();
    await q.submit("job", "first").then(({ id }) => q.result(id));
    let open!: () => void;
    store.gate = new Promise<void>((resolve) => (open = resolve));
    const claimsBefore = store.claims;
    // a new handler is a sign of new work: it starts a claim, which will find nothing
    q.define("other", () => null);
    await expect.poll(() => store.claims).toBe(claimsBefore + 1);
    const { id } = await q.submit("job", "second"); // arrives while that claim is held back
    store.gate = null;
    open();
    expect(await q.result(id, { timeoutMs: 10_000 })).toBe("second");
    await q.stop();
  });
});
