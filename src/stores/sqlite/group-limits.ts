/**
 * Group limits live in tables (groups, group_starts) so that every process
 * sharing the file enforces the same concurrency and rate limits.
 */
import type { GroupLimits } from "../../store/port.js";
import type { Statements } from "./statements.js";

interface RateLimit {
  limit: number;
  intervalMs: number;
}

export function saveGroupLimits(s: Statements, groups: ReadonlyMap<string, GroupLimits>): void {
  for (const [name, limits] of groups) {
    const concurrency =
      limits.concurrency === undefined || !Number.isFinite(limits.concurrency) ? null : limits.concurrency;
    const rate = limits.rateLimit;
    s.upsertGroup.run(name, concurrency, rate ? rate.limit : null, rate ? rate.intervalMs : null);
  }
}

/** The starts each group may still take in one claim, computed from the tables on first use. */
export class GroupBudgets {
  /** Groups with no budget left: the claim skips their jobs. */
  readonly blocked = new Set<string>();
  private readonly budgets = new Map<string, number>();
  private readonly rateLimited = new Map<string, RateLimit>();
  private readonly s: Statements;
  private readonly now: number;

  constructor(s: Statements, now: number) {
    this.s = s;
    this.now = now;
  }

  budgetOf(group: string): number {
    const cached = this.budgets.get(group);
    if (cached !== undefined) return cached;
    const s = this.s;
    const cfg = s.group.get(group);
    let budget = Infinity;
    if (cfg) {
      if (cfg.concurrency !== null) budget = cfg.concurrency - (s.groupRunning.get(group) ?? 0);
      if (cfg.rate_limit !== null && cfg.rate_interval_ms !== null) {
        const rate = { limit: cfg.rate_limit, intervalMs: cfg.rate_interval_ms };
        this.rateLimited.set(group, rate);
        s.dropStarts.run(group, this.now - rate.intervalMs);
        const inWindow = s.startsSince.get(group, this.now - rate.intervalMs) ?? 0;
        budget = Math.min(budget, Math.max(0, rate.limit - inWindow));
      }
    }
    this.budgets.set(group, budget);
    if (budget <= 0) this.blocked.add(group);
    return budget;
  }

  /** Spends one start of the group's budget (call budgetOf first). */
  take(group: string): void {
    const left = (this.budgets.get(group) ?? Infinity) - 1;
    this.budgets.set(group, left);
    if (left <= 0) this.blocked.add(group);
    if (this.rateLimited.has(group)) this.s.addStart.run(group, this.now);
  }

  /** When each rate-limited group seen so far whose window is full reopens. */
  reopenings(): number[] {
    const times: number[] = [];
    for (const [group, rate] of this.rateLimited) {
      if (rate.limit <= 0) continue;
      if ((this.s.startsSince.get(group, this.now - rate.intervalMs) ?? 0) < rate.limit) continue;
      const nth = this.s.nthLatestStart.get(group, rate.limit - 1);
      if (nth !== undefined) times.push(nth + rate.intervalMs);
    }
    return times;
  }
}
