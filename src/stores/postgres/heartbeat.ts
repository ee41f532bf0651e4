import type { HeartbeatEntry, HeartbeatParams, HeartbeatResult } from "../../store/port.js";
import type { Connections } from "./connection.js";
import { num, validId } from "./convert.js";
import type { Sql } from "./sql.js";

interface PendingBeat {
  params: HeartbeatParams;
  resolve: (result: HeartbeatResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Heartbeats of this instance are written one statement at a time, in call
 * order: calls made while one is in flight are merged into the next
 * statement (later progress/checkpoint win). Two statements on two pooled
 * connections could otherwise commit out of order and leave an older
 * checkpoint over a newer one.
 */
export class HeartbeatWriter {
  /** Heartbeat calls waiting for the one in flight (see write()). */
  private beats: PendingBeat[] = [];
  private beating = false;

  constructor(
    private readonly db: Connections,
    private readonly sql: Sql,
  ) {}

  write(params: HeartbeatParams): Promise<HeartbeatResult> {
    if (params.entries.length === 0) return Promise.resolve({ lost: [], cancelRequested: [] });
    return new Promise((resolve, reject) => {
      this.beats.push({ params, resolve, reject });
      if (!this.beating) void this.writeBeats();
    });
  }

  private async writeBeats(): Promise<void> {
    this.beating = true;
    try {
      while (this.beats.length > 0) {
        const calls = this.beats.splice(0);
        const byWorker = new Map<string, PendingBeat[]>();
        for (const c of calls) {
          const list = byWorker.get(c.params.workerId);
          if (list) list.push(c);
          else byWorker.set(c.params.workerId, [c]);
        }
        for (const [workerId, group] of byWorker) {
          const last = group[group.length - 1]!.params;
          try {
            const held = await this.beat(
              workerId,
              group.flatMap((c) => c.params.entries),
              last.now,
              last.leaseMs,
            );
            for (const c of group) {
              const lost: string[] = [];
              const cancelRequested: string[] = [];
              for (const e of c.params.entries) {
                const cancel = held.get(`${e.id}:${e.attempt}`);
                if (cancel === undefined) lost.push(e.id);
                else if (cancel) cancelRequested.push(e.id);
              }
              c.resolve({ lost, cancelRequested });
            }
          } catch (error) {
            for (const c of group) c.reject(error);
          }
        }
      }
    } finally {
      this.beating = false;
    }
  }

  /** One heartbeat statement; returns (id:attempt) → cancel requested, for the entries still held. */
  private async beat(
    workerId: string,
    entries: readonly HeartbeatEntry[],
    now: number,
    leaseMs: number,
  ): Promise<Map<string, boolean>> {
    // one row per (id, attempt); later entries' progress/checkpoint win, as if applied in order
    const merged = new Map<string, HeartbeatEntry>();
    for (const e of entries) {
      if (!validId(e.id)) continue;
      const k = `${e.id}:${e.attempt}`;
      const prev = merged.get(k);
      merged.set(k, prev ? { ...prev, ...definedOnly(e) } : e);
    }
    const held = new Map<string, boolean>();
    if (merged.size === 0) return held;
    const list = [...merged.values()];
    const rows = await this.db.run<{ id: string; attempt: number; cancel_requested: boolean }>(
      "heartbeat",
      this.sql.heartbeat,
      [
        workerId,
        now,
        leaseMs,
        list.map((e) => e.id),
        list.map((e) => e.attempt),
        list.map((e) => e.progress !== undefined),
        list.map((e) => (e.progress === undefined ? null : (JSON.stringify(e.progress) ?? null))),
        list.map((e) => e.checkpoint !== undefined),
        list.map((e) => (e.checkpoint === undefined ? null : (JSON.stringify(e.checkpoint) ?? null))),
      ],
      true,
    );
    for (const r of rows) held.set(`${r.id}:${num(r.attempt)}`, r.cancel_requested);
    return held;
  }
}

function definedOnly(e: HeartbeatEntry): Partial<HeartbeatEntry> {
  const out: Partial<HeartbeatEntry> = {};
  if (e.progress !== undefined) out.progress = e.progress;
  if (e.checkpoint !== undefined) out.checkpoint = e.checkpoint;
  return out;
}
