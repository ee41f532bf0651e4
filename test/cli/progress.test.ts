/**
 * The progress renderer: how a handler's progress value becomes a bar and a
 * label, and the in-place redraw of a block of lines.
 */
import stringWidth from "string-width";
import { describe, expect, it } from "vitest";
import { JobProgress } from "../../src/cli/job-progress.js";
import { LiveBlock } from "../../src/cli/live-block.js";
import { describeProgress, progressLine, renderBar } from "../../src/cli/progress.js";

describe("describeProgress", () => {
  it.each([
    [0.25, 0.25, ""],
    [1, 1, ""],
    [42, null, "42"],
    [{ fraction: 0.5, best: 0.00012345 }, 0.5, "best=1.23e-4"],
    [{ percent: 75 }, 0.75, ""],
    [{ done: 3, total: 4, phase: "eval" }, 0.75, "3/4 phase=eval"],
    [{ current: 1, total: 8 }, 0.125, "1/8"],
    [{ trial: 10, trials: 40, best: 2.5 }, 0.25, "10/40 best=2.5"],
    [{ fraction: 1.7 }, 1, ""],
    ["warming up", null, "warming up"],
    [null, null, ""],
    [{ iter: 2000, best: 1.5 }, null, '{"iter":2000,"best":1.5}'],
  ])("%j → fraction %s, label %j", (value, fraction, label) => {
    expect(describeProgress(value)).toEqual({ fraction, label });
  });

  it("keeps a label on one line and drops control characters (no escape reaches the terminal)", () => {
    expect(describeProgress("phase\none\r\ntwo\x1b[2J\x9b31m\x07").label).toBe("phase one two[2J31m");
    expect(describeProgress({ done: 1, total: 2, note: "a\nb\x1b" }).label).toBe("1/2 note=a b");
  });

  it("cuts a long label between characters, never inside a surrogate pair", () => {
    const label = describeProgress("😀".repeat(60)).label;
    expect(label).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
    expect(stringWidth(label)).toBeLessThanOrEqual(48);
    expect(label.endsWith("…")).toBe(true);
  });

  it("truncates long labels", () => {
    const view = describeProgress({ log: "x".repeat(500) });
    expect(view.fraction).toBeNull();
    expect(view.label.length).toBe(48);
    expect(view.label.endsWith("…")).toBe(true);
  });
});

describe("renderBar", () => {
  it("fills in proportion and prints the percentage", () => {
    expect(renderBar(0, 10)).toBe("[░░░░░░░░░░]   0%");
    expect(renderBar(0.5, 10)).toBe("[█████░░░░░]  50%");
    expect(renderBar(1, 10)).toBe("[██████████] 100%");
  });

  it("shows an unknown fraction as an empty bar and ?", () => {
    expect(renderBar(null, 4)).toBe("[····]    ?");
  });

  it("a job's line: bar, id, name, label", () => {
    expect(progressLine("7", "optimize", { done: 1, total: 2 }, 4)).toBe("[██░░]  50%  7 optimize  1/2");
  });
});

describe("LiveBlock", () => {
  it("moves back over the previous block and clears before drawing, and cuts lines to the width", () => {
    const writes: string[] = [];
    const block = new LiveBlock({ write: (t: string) => writes.push(t), isTTY: true, columns: 10 });
    block.draw(["one", "two"]);
    block.draw(["a much longer line"]);
    expect(writes).toEqual(["\x1b[Jone\ntwo\n", "\x1b[2F\x1b[Ja much l…\n"]);
    block.done();
    block.draw(["after"]);
    expect(writes[2]).toBe("\x1b[Jafter\n");
  });

  it("measures and cuts lines in terminal columns: wide characters take two, pairs stay whole", () => {
    const writes: string[] = [];
    const block = new LiveBlock({ write: (t: string) => writes.push(t), isTTY: true, columns: 40 });
    block.draw([`[██░░] 50%  7 ${"最適化ジョブ".repeat(3)}`, `😀${"🚀".repeat(30)}`, "totals"]);
    const lines = writes[0]!.replace("\x1b[J", "").split("\n").slice(0, -1);
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(stringWidth(line)).toBeLessThan(40); // never wraps: the cursor arithmetic holds
      expect(line).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
    }
    expect(lines[0]).toMatch(/…$/);
    expect(lines[2]).toBe("totals");
  });

  it("keeps each line one line: a newline or an escape in it cannot break the redraw", () => {
    const writes: string[] = [];
    const block = new LiveBlock({ write: (t: string) => writes.push(t), isTTY: true, columns: 80 });
    block.draw(["retrying: line one\nline two", "x\x1b[2Ky"]);
    block.draw(["next"]);
    expect(writes[0]).toBe("\x1b[Jretrying: line one line two\nx[2Ky\n");
    expect(writes[1]).toBe("\x1b[2F\x1b[Jnext\n"); // back over exactly the two lines drawn
  });
});

describe("JobProgress", () => {
  it("prints one line per change on a non-terminal, whatever the messages hold", () => {
    let text = "";
    const progress = new JobProgress("9", { write: (t: string) => (text += t), isTTY: false });
    progress.update("retrying after attempt 1: line one\nline two\x1b[31m");
    progress.finish("failed");
    expect(text.split("\n")).toEqual([
      expect.stringMatching(/job 9 queued$/),
      expect.stringMatching(/job 9 retrying after attempt 1: line one line two\[31m$/),
      expect.stringMatching(/job 9 failed$/),
      "",
    ]);
  });

  it("draws nothing more once its stream is gone (its reader went away)", () => {
    const writes: string[] = [];
    const stream = { write: (t: string) => writes.push(t), isTTY: false, destroyed: false };
    const progress = new JobProgress("9", stream);
    stream.destroyed = true;
    progress.finish("completed");
    expect(writes).toHaveLength(1);
  });
});
