/**
 * The progress renderer: how a handler's progress value becomes a bar and a
 * label, and the in-place redraw of a block of lines.
 */
import { describe, expect, it } from "vitest";
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
});
