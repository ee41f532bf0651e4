/**
 * `optiq watch`'s view on a terminal: what it draws from events, and how the
 * server's list of running jobs settles jobs that finished elsewhere (on a
 * shared store, jobs other workers run send this server no events).
 */
import { describe, expect, it } from "vitest";
import type { Job } from "../../src/client/index.js";
import { WatchView } from "../../src/cli/watch-view.js";

/** A terminal that keeps what was written; the last drawn block is after the last clear. */
function terminal() {
  const out = { text: "", isTTY: true, columns: 100, rows: 24, write: (t: string) => (out.text += t) };
  return { out, lastBlock: () => out.text.split("\x1b[J").at(-1)! };
}

const running = (id: string, progress: unknown): Job => ({ id, name: "train", state: "running", progress }) as Job;

describe("WatchView", () => {
  it("drops jobs the server no longer lists as running, keeps those started since, and shows others' progress", () => {
    const { out, lastBlock } = terminal();
    const view = new WatchView(out, false);
    view.apply({ event: "started", data: { id: "1", name: "train", attempt: 1, queueWaitMs: 0 } });
    view.apply({ event: "started", data: { id: "2", name: "train", attempt: 1, queueWaitMs: 0 } });
    const askedFor = view.runningIds();
    const askedAt = Date.now() - 1; // the list was asked for before job 3's event
    view.apply({ event: "started", data: { id: "3", name: "train", attempt: 1, queueWaitMs: 0 } });
    // the answer: 1 finished elsewhere, 2 still runs, 4 runs on another worker at 40%
    view.reconcile(askedAt, askedFor, [running("2", 0.1), running("4", 0.4)]);
    view.close();
    const drawn = lastBlock();
    expect(drawn).not.toMatch(/\b1 train/);
    expect(drawn).toMatch(/\b2 train/);
    expect(drawn).toMatch(/\b3 train/);
    expect(drawn).toMatch(/40%\s+4 train/);
  });

  it("keeps a job's progress from its events over an older list's", () => {
    const { out, lastBlock } = terminal();
    const view = new WatchView(out, false);
    view.apply({ event: "started", data: { id: "7", name: "train", attempt: 1, queueWaitMs: 0 } });
    const askedAt = Date.now() - 1;
    view.apply({ event: "progress", data: { id: "7", name: "train", progress: 0.9 } });
    view.reconcile(askedAt, view.runningIds(), [running("7", 0.2)]);
    view.close();
    expect(lastBlock()).toMatch(/90%\s+7 train/);
  });

  it("prints one line per event when not a terminal, with no control character of the job's", () => {
    let text = "";
    const view = new WatchView({ write: (t: string) => (text += t), isTTY: false }, false);
    view.apply({ event: "started", data: { id: "3", name: "re\ntry\x1b[H", attempt: 1, queueWaitMs: 0 } });
    view.apply({
      event: "retrying",
      data: {
        id: "3",
        name: "retry",
        attempt: 1,
        runAt: 0,
        error: { name: "Error", message: "line one\nline two" },
      },
    } as Parameters<WatchView["apply"]>[0]);
    view.apply({ event: "progress", data: { id: "3", name: "retry", progress: "phase\r\nb\x1b]0;title\x07" } });
    view.apply({ event: "cancelled", data: { id: "3", name: "retry", reason: "by\nhand" } } as Parameters<
      WatchView["apply"]
    >[0]);
    view.close();
    // eslint-disable-next-line no-control-regex -- asserting there are none
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    expect(text.split("\n")).toEqual([
      "started 3 re try[H (attempt 1)",
      "retrying 3 retry after attempt 1: line one line two",
      expect.stringMatching(/^progress \[.*\] {4}\? {2}3 retry {2}phase b\]0;title$/),
      "cancelled 3 retry: by hand",
      "",
    ]);
  });
});
