import { StoreError } from "../../core/errors.js";
import { rowToClaimed as toClaimed } from "../../store/job-row.js";
import type { ClaimParams, ClaimResult, ClaimedJob } from "../../store/port.js";
import type { Effects } from "./effects.js";
import { GroupBudgets } from "./group-limits.js";
import type { RunnableRow, Statements } from "./statements.js";

/** Rows fetched per lane in a claim when the budgets allow more. */
const CLAIM_PAGE = 1000;

/** One job name's runnable rows, read a page at a time in claim order. */
interface Lane {
  readonly name: string;
  rows: RunnableRow[];
  pos: number;
  /** The last fetch returned fewer rows than asked: no more eligible rows. */
  done: boolean;
}

/**
 * Leases up to params.limit runnable jobs inside the caller's transaction:
 * the best job across every name's lane first, within each name's and each
 * group's budget.
 */
export function claimJobs(s: Statements, params: ClaimParams, fx: Effects): ClaimResult {
  const { now, workerId } = params;
  const expires = now + params.leaseMs;
  let nextRunAt: number | null = null;
  const noteLater = (at: number): void => {
    nextRunAt = nextRunAt === null ? at : Math.min(nextRunAt, at);
  };
  for (const name of params.names.keys()) {
    const due = s.nextDue.get(name, now);
    if (due !== null && due !== undefined) noteLater(due);
  }

  const groups = new GroupBudgets(s, now);
  const blocked = groups.blocked;

  const nameBudget = new Map<string, number>();
  for (const [name, n] of params.names) if (n > 0) nameBudget.set(name, n);
  let limit = params.limit;

  // chosen jobs are leased in one statement, before any refetch (so they have left the runnable set) and at the end
  const jobs: ClaimedJob[] = [];
  let chosen: number[] = [];
  const leaseChosen = (): void => {
    if (chosen.length === 0) return;
    const rows = s.lease.all(now, workerId, expires, JSON.stringify(chosen));
    if (rows.length !== chosen.length) {
      throw new StoreError(`claim: leased ${rows.length} of ${chosen.length} jobs read as queued`);
    }
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const id of chosen) jobs.push(toClaimed(byId.get(id)!));
    fx.moveMany("queued", "running", rows.length);
    chosen = [];
  };

  const fetch = (lane: Lane): void => {
    leaseChosen();
    const want = Math.max(1, Math.ceil(Math.min(nameBudget.get(lane.name) ?? 0, limit, CLAIM_PAGE)));
    lane.rows = s.runnable.all({ name: lane.name, now, excluded: JSON.stringify([...blocked]), limit: want });
    lane.pos = 0;
    lane.done = lane.rows.length < want;
  };
  /** The lane's best row outside blocked groups, fetching more as needed. */
  const headOf = (lane: Lane): RunnableRow | undefined => {
    for (;;) {
      while (lane.pos < lane.rows.length) {
        const row = lane.rows[lane.pos]!;
        if (row.group_name === null || !blocked.has(row.group_name)) return row;
        lane.pos++;
      }
      if (lane.done) return undefined;
      fetch(lane);
    }
  };

  const lanes: Lane[] = [];
  if (limit > 0) {
    for (const name of nameBudget.keys()) {
      const lane: Lane = { name, rows: [], pos: 0, done: false };
      fetch(lane);
      if (lane.rows.length > 0) lanes.push(lane);
    }
  }

  while (limit > 0 && lanes.length > 0) {
    let best: RunnableRow | undefined;
    let bestLane: Lane | undefined;
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i]!;
      const head = (nameBudget.get(lane.name) ?? 0) > 0 ? headOf(lane) : undefined;
      if (head === undefined) {
        lanes[i] = lanes[lanes.length - 1]!;
        lanes.pop();
        i--;
        continue;
      }
      if (best === undefined || runsBefore(head, best)) {
        best = head;
        bestLane = lane;
      }
    }
    if (best === undefined || bestLane === undefined) break;
    const group = best.group_name;
    if (group !== null && groups.budgetOf(group) <= 0) continue; // now blocked: headOf skips it
    bestLane.pos++;
    chosen.push(best.id);
    limit--;
    nameBudget.set(bestLane.name, (nameBudget.get(bestLane.name) ?? 1) - 1);
    if (group !== null) groups.take(group);
  }
  leaseChosen();
  // a group with waiting work whose window is full (before or because of this claim) reopens later
  for (const lane of lanes) {
    for (let i = lane.pos; i < lane.rows.length; i++) {
      const g = lane.rows[i]!.group_name;
      if (g !== null) groups.budgetOf(g);
    }
  }
  for (const at of groups.reopenings()) noteLater(at);
  return { jobs, nextRunAt };
}

function runsBefore(a: RunnableRow, b: RunnableRow): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.run_at !== b.run_at) return a.run_at < b.run_at;
  return a.id < b.id;
}
