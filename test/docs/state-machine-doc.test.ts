import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { JOB_STATES, TERMINAL_STATES, TRANSITIONS, canTransition, isTerminal } from "../../src/index.js";

const doc = readFileSync(new URL("../../docs/state-machine.md", import.meta.url), "utf8");

/** The body of the (single) ```mermaid block. */
function mermaidBlock(): string {
  const blocks = [...doc.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1]!);
  expect(blocks, "docs/state-machine.md has exactly one mermaid block").toHaveLength(1);
  return blocks[0]!;
}

/** Edges `a --> b` (labels after `:` ignored), as "a>b". */
function edgesOf(block: string): string[] {
  const lines = block
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith("%%"));
  expect(lines[0]).toBe("stateDiagram-v2");
  const edges: string[] = [];
  for (const line of lines.slice(1)) {
    const m = /^(\[\*\]|[A-Za-z_]+)\s*-->\s*(\[\*\]|[A-Za-z_]+)\s*(?::.*)?$/.exec(line);
    if (!m) continue;
    edges.push(`${m[1]}>${m[2]}`);
  }
  return edges;
}

const expectedEdges = [
  "[*]>queued",
  ...TRANSITIONS.map((t) => `${t.from}>${t.to}`),
  ...JOB_STATES.filter((s) => isTerminal(s)).map((s) => `${s}>[*]`),
];

describe("docs/state-machine.md", () => {
  it("the mermaid diagram has exactly the transitions of TRANSITIONS, plus start and end edges", () => {
    const edges = edgesOf(mermaidBlock());
    expect(new Set(edges).size, "no edge is drawn twice").toBe(edges.length);
    expect([...edges].sort()).toEqual([...expectedEdges].sort());
  });

  it("every line of the diagram is an edge (nothing the parser skipped)", () => {
    const lines = mermaidBlock()
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.length > 0 && !l.startsWith("%%"));
    expect(lines.length - 1).toBe(edgesOf(mermaidBlock()).length);
  });

  it("the diagram uses only known states", () => {
    for (const edge of edgesOf(mermaidBlock())) {
      for (const s of edge.split(">")) expect(["[*]", ...JOB_STATES]).toContain(s);
    }
  });

  it("the transitions table lists every transition of TRANSITIONS and no other", () => {
    const rows = doc
      .split("\n")
      .map((l) => l.split("|").map((c) => c.trim()))
      .filter((cells) => cells.length >= 5 && /^`[a-z]+`$/.test(cells[1] ?? "") && /^`[a-z]+`$/.test(cells[2] ?? ""))
      .map((cells) => `${cells[1]!.slice(1, -1)}>${cells[2]!.slice(1, -1)}`);
    expect(rows.sort()).toEqual(TRANSITIONS.map((t) => `${t.from}>${t.to}`).sort());
  });

  it("names every state, and marks exactly the terminal ones terminal", () => {
    for (const s of JOB_STATES) {
      const row = doc.split("\n").find((l) => l.startsWith(`| \`${s}\``));
      expect(row, `a state row for ${s}`).toBeDefined();
      const terminalCell = row!.split("|")[2]!.trim();
      expect(terminalCell).toBe(TERMINAL_STATES.has(s) ? "yes" : "no");
    }
  });

  it("explains guarded updates, cancel of queued and running jobs, and lease rescue", () => {
    expect(doc).toMatch(/exactly one\s+terminal state/);
    expect(doc).toContain("abortGraceMs");
    expect(doc).toMatch(/lease/i);
    expect(doc).toContain("`running → queued`");
  });
});

describe("canTransition", () => {
  const table = new Set(TRANSITIONS.map((t) => `${t.from}>${t.to}`));

  it.each(JOB_STATES.flatMap((from) => JOB_STATES.map((to) => [from, to] as const)))(
    "%s → %s agrees with TRANSITIONS",
    (from, to) => {
      expect(canTransition(from, to)).toBe(table.has(`${from}>${to}`));
    },
  );

  it("terminal states have no way out, and every state is reachable from queued", () => {
    for (const t of TRANSITIONS) expect(isTerminal(t.from)).toBe(false);
    const reached = new Set<string>(["queued"]);
    for (let changed = true; changed;) {
      changed = false;
      for (const t of TRANSITIONS) {
        if (reached.has(t.from) && !reached.has(t.to)) {
          reached.add(t.to);
          changed = true;
        }
      }
    }
    expect([...reached].sort()).toEqual([...JOB_STATES].sort());
  });
});
