import { QueueFullError, StoreError } from "../../core/errors.js";
import type { EnqueueParams, EnqueueResult } from "../../store/port.js";
import type { Queryable } from "./connection.js";
import type { Sql } from "./sql.js";

/**
 * Inserts a batch of jobs on `db` (a pooled connection, possibly in a
 * transaction, or the caller's own client). With maxQueued, the cap is
 * checked under a transaction-level lock, held until `db`'s transaction ends.
 */
export async function insertJobs(
  db: Queryable,
  sql: Sql,
  schema: string,
  params: EnqueueParams,
): Promise<EnqueueResult[]> {
  const { jobs, now, maxQueued } = params;
  const withCap = maxQueued !== null;
  if (withCap) await db.query({ ...sql.enqueueLock, values: [`optiq.enqueue:${schema}`] });
  const values: unknown[] = [
    now,
    jobs.map((j) => j.name),
    jobs.map((j) => j.inputJson),
    jobs.map((j) => j.priority),
    jobs.map((j) => j.runAt),
    jobs.map((j) => j.maxAttempts),
    jobs.map((j) => j.timeoutMs),
    jobs.map((j) => JSON.stringify(j.backoff)),
    jobs.map((j) => j.key),
    jobs.map((j) => j.group),
  ];
  if (withCap) values.push(maxQueued);
  const { rows } = await db.query<{
    ord: string;
    id: string | null;
    key: string | null;
    ok?: boolean;
    queued?: string;
  }>({
    ...sql.enqueue(withCap),
    values,
  });
  if (withCap && rows[0]?.ok === false) throw new QueueFullError(Number(rows[0].queued), maxQueued);
  const results: EnqueueResult[] = rows.map((r) => ({ id: r.id ?? "", created: r.id !== null }));
  // keys that already existed (in the store, or earlier in this batch): read their ids now
  const missing = rows.filter((r) => r.id === null).map((r) => r.key!);
  if (missing.length > 0) {
    const found = await db.query<{ id: string; key: string }>({
      ...sql.idsByKey,
      values: [[...new Set(missing)]],
    });
    const byKey = new Map(found.rows.map((r) => [r.key, String(r.id)]));
    rows.forEach((r, i) => {
      if (r.id !== null) return;
      const id = byKey.get(r.key!);
      // the other job vanished in between (pruned): the caller may retry
      if (id === undefined)
        throw new StoreError(`PostgresStore.enqueue: job with key ${r.key} vanished during enqueue`);
      results[i] = { id, created: false };
    });
  }
  return results;
}
