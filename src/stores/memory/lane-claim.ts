import type { Groups } from "./groups.js";
import { runsBefore, type MemoryRecord } from "./record.js";
import type { Lane } from "./waiting-jobs.js";

/**
 * One claim's pick across lanes: the best head among the lanes whose name and
 * group both have budget left, one job at a time, O(lanes) per job. A group's
 * budget is read from its limits once per claim and then only counted down.
 */
export class LaneClaim {
  private readonly nameBudget: Map<string, number>;
  private readonly groupBudget = new Map<string, number>();
  private readonly eligible: Lane[] = [];

  constructor(
    lanes: Iterable<Lane>,
    names: ReadonlyMap<string, number>,
    private readonly groups: Groups,
    private readonly now: number,
  ) {
    this.nameBudget = new Map(names);
    for (const lane of lanes) {
      if (lane.queue.size > 0 && (this.nameBudget.get(lane.name) ?? 0) > 0 && this.budgetOf(lane.group) > 0) {
        this.eligible.push(lane);
      }
    }
  }

  /** Takes the best job left within the budgets off its lane (the caller leases it), or undefined. */
  next(): MemoryRecord | undefined {
    const { eligible, nameBudget, groupBudget } = this;
    let bestIndex = -1;
    let best: MemoryRecord | undefined;
    for (let i = 0; i < eligible.length; i++) {
      const lane = eligible[i]!;
      const head = lane.liveHead();
      const usable =
        head !== undefined &&
        (nameBudget.get(lane.name) ?? 0) > 0 &&
        (lane.group === null || (groupBudget.get(lane.group) ?? Infinity) > 0);
      if (!usable) {
        eligible[i] = eligible[eligible.length - 1]!;
        eligible.pop();
        i--;
        continue;
      }
      if (best === undefined || runsBefore(head, best)) {
        best = head;
        bestIndex = i;
      }
    }
    if (best === undefined || bestIndex < 0) return undefined;
    eligible[bestIndex]!.queue.pop();
    nameBudget.set(best.name, (nameBudget.get(best.name) ?? 1) - 1);
    if (best.group !== null) groupBudget.set(best.group, (groupBudget.get(best.group) ?? Infinity) - 1);
    return best;
  }

  /**
   * When the first of the groups with waiting work whose rate window is full
   * (before or because of this claim) reopens, or null: the worker comes back
   * for that work then. Call after leasing the jobs taken.
   */
  reopensAt(): number | null {
    let at: number | null = null;
    for (const group of this.groupBudget.keys()) {
      const reopens = this.groups.reopensAt(group, this.now);
      if (reopens !== null) at = at === null ? reopens : Math.min(at, reopens);
    }
    return at;
  }

  private budgetOf(group: string | null): number {
    if (group === null) return Infinity;
    const cached = this.groupBudget.get(group);
    if (cached !== undefined) return cached;
    const budget = this.groups.budget(group, this.now);
    this.groupBudget.set(group, budget);
    return budget;
  }
}
