import { describe, expect, it } from "vitest";
import { ActiveExecutions } from "../../src/worker/active-executions.js";
import type { Execution } from "../../src/worker/execution.js";

/** Just what the list touches: the job id and the links. */
function exec(id: string): Execution {
  return { job: { id }, listed: false, prevActive: null, nextActive: null } as unknown as Execution;
}

const ids = (list: Iterable<Execution>): string[] => [...list].map((e) => e.job.id);

describe("ActiveExecutions", () => {
  it("keeps start order and finds attempts by job id", () => {
    const list = new ActiveExecutions();
    const [a, b, c] = [exec("a"), exec("b"), exec("c")];
    list.add(a);
    list.add(b);
    list.add(c);
    expect(list.size).toBe(3);
    expect(ids(list)).toEqual(["a", "b", "c"]);
    expect(list.get("b")).toBe(b);
    expect(list.get("zz")).toBeUndefined();
    expect(list.findAll(["c", "zz", "a"])).toEqual([a, c]);
  });

  it("removes from the head, the middle and the tail, and ignores a second add or delete", () => {
    const list = new ActiveExecutions();
    const all = ["a", "b", "c", "d"].map(exec);
    for (const e of all) list.add(e);
    list.add(all[0]!);
    expect(list.size).toBe(4);
    list.delete(all[1]!);
    list.delete(all[1]!);
    expect(ids(list)).toEqual(["a", "c", "d"]);
    list.delete(all[0]!);
    list.delete(all[3]!);
    expect(ids(list)).toEqual(["c"]);
    expect(list.size).toBe(1);
    list.delete(all[2]!);
    expect(list.size).toBe(0);
    expect(ids(list)).toEqual([]);
    expect(list.findAll(["a", "b"])).toEqual([]);
    // a removed attempt holds no links to others (nothing keeps them reachable)
    for (const e of all) expect([e.prevActive, e.nextActive]).toEqual([null, null]);
  });

  it("lets the current attempt leave while iterating", () => {
    const list = new ActiveExecutions();
    const all = ["a", "b", "c"].map(exec);
    for (const e of all) list.add(e);
    const seen: string[] = [];
    for (const e of list) {
      seen.push(e.job.id);
      list.delete(e);
    }
    expect(seen).toEqual(["a", "b", "c"]);
    expect(list.size).toBe(0);
  });

  it("toArray is a copy", () => {
    const list = new ActiveExecutions();
    const a = exec("a");
    list.add(a);
    const copy = list.toArray();
    list.delete(a);
    expect(copy).toEqual([a]);
  });
});
