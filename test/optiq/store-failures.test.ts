/**
 * A store that fails under the worker: claims are retried, outcomes are
 * retried, and a stop gives up at its deadline instead of hanging.
 */
import { describe, expect, it } from "vitest";
import { Optiq, StoreError, type SettleParams, type SettleResult } from "../../src/index.js";
import { MemoryStore } from "../../src/testing.js";

describe("when the store fails", () => {
  it("outcome writes are retried while running; stop() returns at its deadline and then stops retrying", async () => {
    let settleCalls = 0;
    class BrokenSettleStore extends MemoryStore {
      override settle(params: SettleParams): Promise<SettleResult[]> {
        void params;
        settleCalls++;
        return Promise.reject(new StoreError("disk full"));
      }
    }
    let gaveUp!: () => void;
    const abandoned = new Promise<void>((r) => (gaveUp = r));
    const noop = () => undefined;
    const logger = {
      debug: noop,
      info: noop,
      warn: noop,
      error: (_obj: object, msg?: string) => {
        if (msg === "outcomes not written before stop") gaveUp();
      },
    };
    const q = new Optiq({ store: new BrokenSettleStore(), logger });
    const completed = new Promise<void>((r) => q.define("x", async () => r()));
    await q.start();
    await q.submit("x");
    await completed; // the handler ran; its outcome cannot be written
    await expect.poll(() => settleCalls, { timeout: 5000 }).toBeGreaterThanOrEqual(2); // retried
    const t0 = Date.now();
    await q.stop({ timeoutMs: 200 });
    expect(Date.now() - t0).toBeLessThan(5000);
    await abandoned; // the retry loop logged its give-up and returned instead of retrying forever
  });
});
