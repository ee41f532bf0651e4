import type { Clock } from "./core/clock.js";
import type { SubmitOptions } from "./core/definition.js";
import { NotRunningError, OptiqError, QueueFullError, UnknownJobNameError, ValidationError } from "./core/errors.js";
import type { TypedEmitter } from "./core/events.js";
import type { Logger } from "./core/logger.js";
import type { StatsRecorder } from "./core/stats.js";
import { checkDuration, checkString } from "./core/validate.js";
import type { CapacityGate } from "./capacity-gate.js";
import type { Lifecycle } from "./lifecycle.js";
import type { EnqueueJob, Store } from "./store/port.js";
import { NO_OPTIONS, atItem, buildEnqueueJob } from "./submission.js";
import type { ResolvedDefinition } from "./worker/definition.js";

export interface Submitted {
  id: string;
  /** false when the idempotency key matched an existing job (whose id this is). */
  created: boolean;
}

export interface SubmitManyItem {
  name: string;
  input?: unknown;
  options?: Omit<SubmitOptions, "ifFull" | "waitTimeoutMs" | "signal">;
}

export interface SubmitterParts {
  store: Store;
  clock: Clock;
  logger: Logger;
  emitter: TypedEmitter;
  stats: StatsRecorder;
  lifecycle: Lifecycle;
  definitions: ReadonlyMap<string, ResolvedDefinition>;
  capacity: CapacityGate;
  maxQueued: number | null;
  maxPayloadBytes: number;
}

/**
 * The submission path behind submit(), submitMany() and submitWith():
 * validate, write to the store (waiting for room if asked), then count and
 * announce what was created. Every rejection is counted in stats.
 */
export class Submitter {
  // fields rather than one parts object: prepare() runs once per job on the hot path
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly emitter: TypedEmitter;
  private readonly stats: StatsRecorder;
  private readonly lifecycle: Lifecycle;
  private readonly definitions: ReadonlyMap<string, ResolvedDefinition>;
  private readonly capacity: CapacityGate;
  private readonly maxQueued: number | null;
  private readonly maxPayloadBytes: number;

  constructor(parts: SubmitterParts) {
    this.store = parts.store;
    this.clock = parts.clock;
    this.logger = parts.logger;
    this.emitter = parts.emitter;
    this.stats = parts.stats;
    this.lifecycle = parts.lifecycle;
    this.definitions = parts.definitions;
    this.capacity = parts.capacity;
    this.maxQueued = parts.maxQueued;
    this.maxPayloadBytes = parts.maxPayloadBytes;
  }

  async submit(name: string, input: unknown, options: SubmitOptions): Promise<Submitted> {
    let job: EnqueueJob;
    try {
      job = this.prepare(name, input, options);
    } catch (err) {
      throw this.rejected(err);
    }
    const [result] = await this.enqueue([job], options);
    return result!;
  }

  async submitMany(items: readonly SubmitManyItem[]): Promise<Submitted[]> {
    if (!Array.isArray(items)) throw this.rejected(new ValidationError("items", "must be an array"));
    const jobs = this.prepareItems(items);
    if (jobs.length === 0) return [];
    return this.enqueue(jobs, {});
  }

  async submitWith(tx: unknown, items: readonly SubmitManyItem[]): Promise<Submitted[]> {
    const enqueueWith = this.store.enqueueWith?.bind(this.store);
    if (!this.store.capabilities.transactionalEnqueue || !enqueueWith) {
      throw this.rejected(new ValidationError("store", "this store cannot enqueue inside a caller's transaction"));
    }
    if (!Array.isArray(items)) throw this.rejected(new ValidationError("items", "must be an array"));
    const jobs = this.prepareItems(items);
    await this.lifecycle.ready();
    try {
      const results = await enqueueWith(tx, { jobs, now: this.clock.now(), maxQueued: this.maxQueued });
      this.afterEnqueue(jobs, results);
      return results;
    } catch (err) {
      throw this.rejected(err);
    }
  }

  /** Validates a submission; errors name fields as submit() does (`name`, `options.delayMs`). */
  private prepare(name: string, input: unknown, options: SubmitOptions): EnqueueJob {
    if (this.lifecycle.closed) throw new NotRunningError();
    const def = typeof name === "string" ? this.definitions.get(name) : undefined;
    if (!def) {
      checkString("name", name, 128);
      throw new UnknownJobNameError(name);
    }
    return buildEnqueueJob(def, input, options, this.clock.now(), this.maxPayloadBytes);
  }

  /** prepare() for each item of submitMany / submitWith; errors name the item (`items[3].options.delayMs`). */
  private prepareItems(items: readonly SubmitManyItem[]): EnqueueJob[] {
    const jobs = new Array<EnqueueJob>(items.length);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (typeof item !== "object" || item === null) {
        throw this.rejected(new ValidationError(`items[${i}]`, "must be { name, input?, options? }"));
      }
      try {
        jobs[i] = this.prepare(item.name, item.input, item.options ?? NO_OPTIONS);
      } catch (err) {
        throw this.rejected(atItem(err, i));
      }
    }
    return jobs;
  }

  private async enqueue(jobs: EnqueueJob[], options: SubmitOptions): Promise<Submitted[]> {
    let waitMs: number | null;
    try {
      waitMs =
        options.waitTimeoutMs === undefined ? null : checkDuration("options.waitTimeoutMs", options.waitTimeoutMs);
    } catch (err) {
      throw this.rejected(err); // an invalid submission, like any other
    }
    await this.lifecycle.ready();
    const deadline = waitMs === null ? null : this.clock.now() + waitMs;
    for (;;) {
      try {
        const results = await this.store.enqueue({ jobs, now: this.clock.now(), maxQueued: this.maxQueued });
        this.afterEnqueue(jobs, results);
        return results;
      } catch (err) {
        if (!(err instanceof QueueFullError) || options.ifFull !== "wait") throw this.rejected(err);
        await this.capacity.wait(deadline, options.signal, err).catch((waitErr: unknown) => {
          throw this.rejected(waitErr);
        });
      }
    }
  }

  private afterEnqueue(jobs: EnqueueJob[], results: Submitted[]): void {
    const wantEvent = this.emitter.has("submitted");
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      if (!r.created) continue;
      const j = jobs[i]!;
      this.stats.totals.submitted++;
      this.logger.debug({ jobId: r.id, name: j.name }, "job submitted");
      if (wantEvent)
        this.emitter.emit("submitted", {
          id: r.id,
          name: j.name,
          priority: j.priority,
          runAt: j.runAt,
          group: j.group,
        });
    }
  }

  private rejected(err: unknown): unknown {
    this.stats.totals.rejected++;
    if (!(err instanceof OptiqError)) return err;
    this.logger.debug({ code: err.code, err }, "submission rejected");
    return err;
  }
}
