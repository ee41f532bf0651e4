import { QueueFullError, StoreError } from "../../core/errors.js";
import type { BackoffSpec } from "../../core/job.js";
import type { EnqueueParams, EnqueueResult } from "../../store/port.js";
import type { Effects } from "./effects.js";
import type { Statements } from "./statements.js";

/** Inserts the jobs inside the caller's transaction; a job whose key is already stored is returned, not added. */
export function enqueueJobs(s: Statements, params: EnqueueParams, fx: Effects): EnqueueResult[] {
  const { jobs, now, maxQueued } = params;
  // keys already stored, and first occurrences within this batch
  const existing = new Map<string, number>();
  const batchKeys = new Set<string>();
  let fresh = 0;
  for (const j of jobs) {
    if (j.key === null) {
      fresh++;
      continue;
    }
    if (existing.has(j.key) || batchKeys.has(j.key)) continue;
    const id = s.idByKey.get(j.key);
    if (id !== undefined) existing.set(j.key, id);
    else {
      batchKeys.add(j.key);
      fresh++;
    }
  }
  if (maxQueued !== null) {
    const queued = s.countOf.get("queued") ?? 0;
    if (queued + fresh > maxQueued) throw new QueueFullError(queued, maxQueued);
  }
  const results: EnqueueResult[] = [];
  let backoffOf: BackoffSpec | null = null;
  let backoffJson = "";
  for (const j of jobs) {
    const known = j.key === null ? undefined : existing.get(j.key);
    if (known !== undefined) {
      results.push({ id: String(known), created: false });
      continue;
    }
    if (j.backoff !== backoffOf) {
      backoffOf = j.backoff;
      backoffJson = JSON.stringify(j.backoff);
    }
    const info = s.insert.run(
      j.name,
      j.priority,
      j.inputJson,
      j.maxAttempts,
      j.key,
      j.group,
      j.timeoutMs,
      backoffJson,
      now,
      j.runAt,
    );
    if (info.changes === 0) {
      // only a key conflict can refuse the insert
      const id = s.idByKey.get(j.key ?? "");
      if (id === undefined) throw new StoreError(`insert of job "${j.name}" was ignored`);
      results.push({ id: String(id), created: false });
      continue;
    }
    const id = Number(info.lastInsertRowid);
    if (j.key !== null) existing.set(j.key, id);
    fx.move(null, "queued");
    // delayed jobs too: a worker learns their runAt from the claim this triggers
    fx.available = true;
    results.push({ id: String(id), created: true });
  }
  return results;
}
