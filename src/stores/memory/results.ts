import type { BackoffSpec } from "../../core/job.js";
import type { JobState } from "../../core/states.js";
import type { ClaimedJob, EnqueueResult, SettleResult } from "../../store/port.js";
import type { MemoryRecord } from "./record.js";

/** A class rather than an object literal, so V8 never pretenures these short-lived objects. */
export class LeasedJob implements ClaimedJob {
  readonly id: string;
  readonly name: string;
  readonly input: unknown;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: number;
  readonly timeoutMs: number | null;
  readonly backoff: BackoffSpec;
  readonly key: string | null;
  readonly group: string | null;
  readonly createdAt: number;
  readonly runAt: number;
  readonly checkpoint: unknown;
  readonly leaseExpiresAt: number;

  constructor(rec: MemoryRecord) {
    this.id = rec.id;
    this.name = rec.name;
    this.input = JSON.parse(rec.inputJson) as unknown;
    this.attempt = rec.attempt;
    this.maxAttempts = rec.maxAttempts;
    this.priority = rec.priority;
    this.timeoutMs = rec.timeoutMs;
    this.backoff = rec.backoff;
    this.key = rec.key;
    this.group = rec.group;
    this.createdAt = rec.createdAt;
    this.runAt = rec.runAt;
    const checkpoint = rec.checkpointJson;
    this.checkpoint = checkpoint === null ? null : (JSON.parse(checkpoint) as unknown);
    this.leaseExpiresAt = rec.leaseExpiresAt ?? 0;
  }
}

/** A settle result: a class, for the reason LeasedJob is one. */
export class Settled implements SettleResult {
  constructor(
    readonly id: string,
    readonly applied: boolean,
    readonly state: JobState | null,
  ) {}
}

/** An enqueue result: a class, for the reason LeasedJob is one. */
export class Enqueued implements EnqueueResult {
  constructor(
    readonly id: string,
    readonly created: boolean,
  ) {}
}
