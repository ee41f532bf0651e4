import type { ClaimParams, ClaimResult } from "../../store/port.js";
import { rowToClaimed as toClaimed, type ClaimedRow } from "../../store/job-row.js";
import type { Connections } from "./connection.js";
import { clampInt, num, numOrNull } from "./convert.js";
import type { Counts } from "./counts.js";
import type { Sql } from "./sql.js";

/** A row of the locking path's candidates statement: a job, a limited group's state, or a later run time. */
interface CandidateRow {
  kind: "job" | "group" | "next";
  id: string | null;
  name: string | null;
  grp: string | null;
  priority: number | null;
  run_at: number | null;
  budget: number | null;
  starts: number[] | null;
  rate_limit: number | null;
  rate_interval_ms: number | null;
}

/**
 * Which fast path a store tries first: whether some group had a fleet-wide
 * limit at its last claim. A hint only, never trusted for correctness: each
 * fast statement reads the groups in its own snapshot and refuses to claim
 * when the hint was wrong.
 */
export class ClaimPath {
  limitedGroups = false;
}

type FastRow = ClaimedRow & { blocked: boolean; next_run_at: number | null; limited_groups?: number | string };

/**
 * Claims take queued jobs with FOR UPDATE SKIP LOCKED in one statement; when
 * jobs of groups with fleet-wide limits are runnable for these names, a short
 * transaction locks the groups' rows first, so limits hold under concurrent claimers.
 */
export async function claim(
  db: Connections,
  sql: Sql,
  counts: Counts,
  path: ClaimPath,
  params: ClaimParams,
): Promise<ClaimResult> {
  const limit = clampInt(params.limit);
  const names: string[] = [];
  const budgets: number[] = [];
  for (const [name, budget] of params.names) {
    const b = Math.min(clampInt(budget), limit);
    if (b > 0) {
      names.push(name);
      budgets.push(b);
    }
  }
  if (limit === 0 || names.length === 0) {
    const rows = await db.run<{ next_run_at: number | null }>("claim", sql.nextRun, [params.now], true);
    return { jobs: [], nextRunAt: numOrNull(rows[0]?.next_run_at) };
  }
  counts.wrote();
  const values = [params.now, params.workerId, names, budgets, limit, params.leaseMs];
  if (!path.limitedGroups) {
    const rows = await db.run<FastRow>("claim", sql.claimUnlimited, values, true);
    if (!rows[0]?.blocked) return claimedBy(rows);
    path.limitedGroups = true; // nothing was claimed: claim again, minding the limits
  }
  const rows = await db.run<FastRow>("claim", sql.claimFast, values, true);
  const first = rows[0];
  if (first && num(first.limited_groups ?? 0) === 0) path.limitedGroups = false;
  if (first?.blocked) return claimLimited(db, sql, params, names, budgets, limit);
  return claimedBy(rows);
}

/** The jobs a fast statement claimed, in claim order, and its next run time. */
function claimedBy(rows: FastRow[]): ClaimResult {
  const jobs = rows.filter((r) => r.id !== null).map(toClaimed);
  jobs.sort(claimOrder);
  return { jobs, nextRunAt: numOrNull(rows[0]?.next_run_at) };
}

/** The locking path: runnable jobs of limited groups exist for these names. */
function claimLimited(
  db: Connections,
  sql: Sql,
  params: ClaimParams,
  names: string[],
  budgets: number[],
  limit: number,
): Promise<ClaimResult> {
  const { now } = params;
  return db.transaction("claim", true, async (client) => {
    const locked = (await client.query<{ name: string }>({ ...sql.lockGroups, values: [names, now] })).rows.map(
      (r) => r.name,
    );
    const { rows } = await client.query<CandidateRow>({
      ...sql.claimCandidates,
      values: [now, names, budgets, limit, locked],
    });
    const { chosen, rateLimited, nextRunAt } = choose(rows, names, budgets, limit, now);
    if (chosen.length === 0) return { jobs: [], nextRunAt };
    const claimed = await client.query<ClaimedRow>({
      ...sql.claimIds,
      values: [now, params.workerId, params.leaseMs, chosen, rateLimited],
    });
    const jobs = claimed.rows.map(toClaimed);
    jobs.sort(claimOrder);
    return { jobs, nextRunAt };
  });
}

/**
 * Picks the candidates to claim, in claim order, within the budgets of their
 * names and groups; and the earliest time something not claimable now becomes so.
 */
function choose(
  rows: readonly CandidateRow[],
  names: string[],
  budgets: number[],
  limit: number,
  now: number,
): { chosen: string[]; rateLimited: string[]; nextRunAt: number | null } {
  let nextRunAt: number | null = null;
  const noteLater = (at: number): void => {
    nextRunAt = nextRunAt === null ? at : Math.min(nextRunAt, at);
  };
  const groupBudget = new Map<string, number>();
  const windows: { group: string; limit: number; intervalMs: number; starts: number[] }[] = [];
  const candidates: { id: string; name: string; grp: string | null; priority: number; runAt: number }[] = [];
  for (const r of rows) {
    if (r.kind === "next") {
      if (r.run_at !== null) noteLater(num(r.run_at));
    } else if (r.kind === "group") {
      groupBudget.set(r.name!, num(r.budget));
      if (r.rate_limit !== null) {
        windows.push({
          group: r.name!,
          limit: num(r.rate_limit),
          intervalMs: num(r.rate_interval_ms),
          starts: (r.starts ?? []).map(num),
        });
      }
    } else {
      candidates.push({
        id: String(r.id),
        name: r.name!,
        grp: r.grp,
        priority: num(r.priority),
        runAt: num(r.run_at),
      });
    }
  }
  candidates.sort(claimOrder);
  const nameBudget = new Map(names.map((n, i) => [n, budgets[i]!]));
  const taken = new Map<string, number>();
  const chosen: string[] = [];
  for (const c of candidates) {
    if (chosen.length >= limit) break;
    if ((nameBudget.get(c.name) ?? 0) <= 0) continue;
    if (c.grp !== null && (groupBudget.get(c.grp) ?? 0) <= 0) continue;
    chosen.push(c.id);
    nameBudget.set(c.name, nameBudget.get(c.name)! - 1);
    if (c.grp !== null) {
      groupBudget.set(c.grp, groupBudget.get(c.grp)! - 1);
      taken.set(c.grp, (taken.get(c.grp) ?? 0) + 1);
    }
  }
  // a rate-limited group whose window is full (before or because of this claim) reopens later
  for (const w of windows) {
    const k = taken.get(w.group) ?? 0;
    const window = [...new Array<number>(Math.min(k, w.limit)).fill(now), ...w.starts].slice(0, w.limit);
    if (window.length >= w.limit) noteLater(window[w.limit - 1]! + w.intervalMs);
  }
  return { chosen, rateLimited: windows.map((w) => w.group), nextRunAt };
}

/** Claim order: higher priority first, then earlier runAt, then submission order. */
function claimOrder(
  a: { priority: number; runAt: number; id: string },
  b: { priority: number; runAt: number; id: string },
): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.runAt !== b.runAt) return a.runAt - b.runAt;
  return compareIds(a.id, b.id);
}

function compareIds(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}
