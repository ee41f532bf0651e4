import { describe, expect, it } from "vitest";
import type { StoreListener } from "../../../src/store/port.js";
import { Deliveries, T0, claimAll, jobs, runChild, useTempDb } from "./support.js";

describe("SqliteStore listeners", () => {
  const tmp = useTempDb();

  it("tells its own listeners synchronously, before the write's promise resolves", async () => {
    const store = await tmp.open();
    const seen: string[] = [];
    await store.subscribe({
      onAvailable: () => seen.push("available"),
      onFinished: (ids) => seen.push(`finished ${ids.join(",")}`),
    });
    const pending = store.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null });
    expect(seen).toEqual(["available"]);
    const [r] = await pending;
    await store.cancel({ id: r!.id, reason: "r", now: T0 });
    expect(seen).toEqual(["available", `finished ${r!.id}`]);
  });

  it("tells another store's listeners about enqueues, finished jobs and cancel requests", async () => {
    const path = tmp.path();
    const writer = await tmp.open({ path });
    const reader = await tmp.open({ path, pollIntervalMs: 20 });
    const rec = new Deliveries();
    await reader.subscribe(rec);

    const [x, y, z] = (await writer.enqueue({ jobs: jobs(3, T0), now: T0, maxQueued: null })).map((r) => r.id);
    await rec.untilAvailable(1);
    // a delayed job too: the worker learns its runAt from the claim the wake-up triggers
    await writer.enqueue({ jobs: jobs(1, T0, { runAt: T0 + 60_000 }), now: T0, maxQueued: null });
    await rec.untilAvailable(2);

    const claimed = (await claimAll(writer, "w", T0, 2)).jobs;
    expect(claimed.map((j) => j.id)).toEqual([x, y]);
    expect(await writer.cancel({ id: y!, reason: "stop", now: T0 + 1 })).toBe("requested");
    await rec.untilCancelRequested(y!);

    await writer.settle({
      workerId: "w",
      settlements: [{ id: x!, attempt: 1, outcome: { kind: "completed", resultJson: "1" } }],
      now: T0 + 2,
    });
    expect(await writer.cancel({ id: z!, reason: "not needed", now: T0 + 3 })).toBe("cancelled");
    await rec.untilFinished(x!, z!);
    // nothing of its own was echoed back, and the writer's deliveries are not doubled
    expect(rec.finished.sort()).toEqual([x!, z!].sort());
    expect(rec.cancelRequested).toEqual([y]);
  });

  it("wakes another store's listeners when the WAL file changes, without waiting for a poll", async () => {
    const path = tmp.path();
    const writer = await tmp.open({ path });
    // a poll an hour away: only the file's change events can deliver in time
    const reader = await tmp.open({ path, pollIntervalMs: 3_600_000 });
    const rec = new Deliveries();
    await reader.subscribe(rec);
    await writer.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null });
    await rec.untilAvailable(1);
    const [r] = await writer.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null });
    await rec.untilAvailable(2);
    await writer.cancel({ id: r!.id, reason: "r", now: T0 });
    await rec.untilFinished(r!.id);
  });

  it("with watch: false, hears of another store's writes only by polling", async () => {
    const path = tmp.path();
    const writer = await tmp.open({ path });
    const reader = await tmp.open({ path, pollIntervalMs: 3_600_000, watch: false });
    const rec = new Deliveries();
    await reader.subscribe(rec);
    await writer.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null });
    await expect(rec.until(() => rec.available > 0, "a wake-up", 500)).rejects.toThrow(/no delivery/);
  });

  it("does not echo a store's own writes through the poller", async () => {
    const path = tmp.path();
    const store = await tmp.open({ path, pollIntervalMs: 10 });
    const other = await tmp.open({ path });
    const rec = new Deliveries();
    await store.subscribe(rec);
    const [own] = await store.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null });
    await store.cancel({ id: own!.id, reason: "r", now: T0 });
    expect(rec.finished).toEqual([own!.id]);
    // a later write by another store forces a poll that reads past our own events
    const [theirs] = await other.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null });
    await other.cancel({ id: theirs!.id, reason: "r", now: T0 });
    await rec.untilFinished(theirs!.id);
    expect(rec.finished).toEqual([own!.id, theirs!.id]);
  });

  it("delivers writes made by another process (cancel request and completion)", async () => {
    const path = tmp.path();
    const store = await tmp.open({ path, pollIntervalMs: 25 });
    const [a, b] = (await store.enqueue({ jobs: jobs(2, T0), now: T0, maxQueued: null })).map((r) => r.id);
    await claimAll(store, "here", T0, 2);
    const rec = new Deliveries();
    await store.subscribe(rec);

    const cancel = await runChild(["cancel", path, a!]);
    expect(cancel, cancel.stderr).toMatchObject({ code: 0, stdout: '"requested"' });
    await rec.untilCancelRequested(a!);

    const done = await runChild(["complete", path, "here", b!, "1"]);
    expect(done, done.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(done.stdout)).toEqual({ id: b, applied: true, state: "completed" });
    await rec.untilFinished(b!);
    expect(await store.get(b!)).toMatchObject({ state: "completed", result: "done" });
  });

  it("stops delivering after unsubscribe and after close", async () => {
    const path = tmp.path();
    const writer = await tmp.open({ path });
    const reader = await tmp.open({ path, pollIntervalMs: 10 });
    const gone = new Deliveries();
    const stays = new Deliveries();
    const off = await reader.subscribe(gone);
    await reader.subscribe(stays);
    await off();
    await writer.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null });
    await stays.untilAvailable(1);
    expect(gone.available).toBe(0);

    await reader.close();
    const [r] = await writer.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null });
    await writer.cancel({ id: r!.id, reason: "x", now: T0 });
    // a third store proves the write is visible to pollers, while the closed one stays silent
    const witness = await tmp.open({ path, pollIntervalMs: 10 });
    const w = new Deliveries();
    await witness.subscribe(w);
    await writer.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null });
    await w.untilAvailable(1);
    expect(stays.available).toBe(1);
    expect(stays.finished).toEqual([]);
  });

  it("keeps delivering when a listener throws", async () => {
    const path = tmp.path();
    const writer = await tmp.open({ path });
    const reader = await tmp.open({ path, pollIntervalMs: 10 });
    const bad: StoreListener = {
      onAvailable: () => {
        throw new Error("listener bug");
      },
    };
    const rec = new Deliveries();
    await reader.subscribe(bad);
    await reader.subscribe(rec);
    await writer.subscribe(bad);
    await expect(writer.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null })).resolves.toHaveLength(1);
    await rec.untilAvailable(1);
    await writer.enqueue({ jobs: jobs(1, T0), now: T0, maxQueued: null });
    await rec.untilAvailable(2);
  });

  it("never keeps a process alive: the poll timer is unref()ed", async () => {
    const path = tmp.path();
    await tmp.open({ path });
    // the child subscribes and returns without close(); a referenced timer would hang it until the timeout
    const idle = await runChild(["idle", path], 20_000);
    expect(idle, idle.stderr).toMatchObject({ code: 0, stdout: "subscribed" });
  });
});
