import { describe, expect, it } from "vitest";
import type { Store } from "../../../src/store/port.js";
import { type Harness, Recorder, T0, add, addEach, claimOne, completed, must, settleOne } from "../harness.js";

/** Seeds a, b, c, d, e (in that order) in mixed names, groups and states. */
async function seed(store: Store): Promise<Record<"a" | "b" | "c" | "d" | "e", string>> {
  const [a, b, c, d, e] = await addEach(store, T0, [
    { name: "x", group: "g1" },
    { name: "y", group: "g1" },
    { name: "x", group: null },
    { name: "x", group: "g2" },
    { name: "y", group: null },
  ]);
  // a completes, b runs, c is cancelled; d and e stay queued
  const ja = await claimOne(store, { now: T0, names: { x: 1 } });
  expect(ja.id).toBe(a);
  await settleOne(store, ja, completed(), T0 + 1);
  expect((await claimOne(store, { now: T0 + 2, names: { y: 1 } })).id).toBe(b);
  expect(await store.cancel({ id: c!, reason: "r", now: T0 + 3 })).toBe("cancelled");
  return { a: a!, b: b!, c: c!, d: d!, e: e! };
}

export function listCases(h: Harness): void {
  describe("list", () => {
    it("lists every job newest first", async () => {
      const store = await h.open();
      const { a, b, c, d, e } = await seed(store);
      expect((await store.list({ limit: 100 })).map((j) => j.id)).toEqual([e, d, c, b, a]);
    });

    it("returns full snapshots, like get()", async () => {
      const store = await h.open();
      const { b } = await seed(store);
      const [listed] = await store.list({ state: "running", limit: 10 });
      expect(listed).toEqual(await must(store, b));
    });

    it("filters by state", async () => {
      const store = await h.open();
      const { a, b, c, d, e } = await seed(store);
      const ids = async (state: Parameters<Store["list"]>[0]["state"]) =>
        (await store.list({ state, limit: 100 })).map((j) => j.id);
      expect(await ids("queued")).toEqual([e, d]);
      expect(await ids("running")).toEqual([b]);
      expect(await ids("completed")).toEqual([a]);
      expect(await ids("cancelled")).toEqual([c]);
      expect(await ids("failed")).toEqual([]);
    });

    it("filters by name and by group, and combines filters", async () => {
      const store = await h.open();
      const { a, b, c, d, e } = await seed(store);
      expect((await store.list({ name: "x", limit: 100 })).map((j) => j.id)).toEqual([d, c, a]);
      expect((await store.list({ name: "y", limit: 100 })).map((j) => j.id)).toEqual([e, b]);
      expect((await store.list({ group: "g1", limit: 100 })).map((j) => j.id)).toEqual([b, a]);
      expect((await store.list({ group: "g2", limit: 100 })).map((j) => j.id)).toEqual([d]);
      expect((await store.list({ name: "x", group: "g1", limit: 100 })).map((j) => j.id)).toEqual([a]);
      expect((await store.list({ name: "x", state: "queued", limit: 100 })).map((j) => j.id)).toEqual([d]);
      expect(await store.list({ name: "nope", limit: 100 })).toEqual([]);
    });

    it("respects limit and pages with beforeId", async () => {
      const store = await h.open();
      const ids = await addEach(store, T0, [{}, {}, {}, {}, {}]);
      const page1 = (await store.list({ limit: 2 })).map((j) => j.id);
      expect(page1).toEqual([ids[4], ids[3]]);
      const page2 = (await store.list({ limit: 2, beforeId: page1[1]! })).map((j) => j.id);
      expect(page2).toEqual([ids[2], ids[1]]);
      const page3 = (await store.list({ limit: 2, beforeId: page2[1]! })).map((j) => j.id);
      expect(page3).toEqual([ids[0]]);
      expect(await store.list({ limit: 2, beforeId: page3[0]! })).toEqual([]);
    });

    it("pages within a filter", async () => {
      const store = await h.open();
      const { a, c, d } = await seed(store);
      const first = (await store.list({ name: "x", limit: 1 })).map((j) => j.id);
      expect(first).toEqual([d]);
      expect((await store.list({ name: "x", limit: 5, beforeId: d })).map((j) => j.id)).toEqual([c, a]);
    });
  });

  describe("lifecycle", () => {
    it("init() and close() are idempotent", async () => {
      const store = await h.open();
      await store.init();
      const id = await add(store, T0);
      expect((await must(store, id)).state).toBe("queued");
      await store.close();
      await store.close();
    });

    it("works again after close() then init()", async () => {
      const store = await h.open();
      const before = await add(store, T0);
      await store.close();
      await store.init();
      const store2 = await h.open();
      if (store2.capabilities.durable)
        expect(await must(store2, before)).toMatchObject({ id: before, state: "queued" });
      const rec = new Recorder();
      await store2.subscribe(rec);
      const id = await add(store2, T0 + 1, { name: "after" });
      await rec.untilAvailable(1);
      const job = await claimOne(store2, { now: T0 + 2, names: { after: 1 } });
      expect(job.id).toBe(id);
      expect((await settleOne(store2, job, completed("again"), T0 + 3)).state).toBe("completed");
      expect((await must(store2, id)).result).toBe("again");
    });
  });
}
