import type { EnqueueJob } from "../../store/port.js";
import type { MemoryRecord } from "./record.js";

/**
 * How many jobs a batch would create, to hold it against maxQueued before
 * any is stored (the batch is admitted or rejected whole): the keyless ones,
 * plus each key not stored yet, counted once however often the batch names it.
 */
export function newJobCount(jobs: readonly EnqueueJob[], keys: ReadonlyMap<string, MemoryRecord>): number {
  const newKeys = new Set<string>();
  let fresh = 0;
  for (const j of jobs) {
    if (j.key === null) fresh++;
    else if (!keys.has(j.key) && !newKeys.has(j.key)) {
      newKeys.add(j.key);
      fresh++;
    }
  }
  return fresh;
}
