import { randomUUID } from "node:crypto";
import Database from "better-sqlite3";
import { OptiqError, StoreError, QueueFullError, ValidationError } from "../../core/errors.js";
import type { AttemptError, BackoffSpec, Job, SerializedError } from "../../core/job.js";
import type { JobState } from "../../core/states.js";
import type {
  CancelOutcome,
  CancelParams,
  ClaimParams,
  ClaimResult,
  ClaimedJob,
  EnqueueParams,
  EnqueueResult,
  HeartbeatParams,
  HeartbeatResult,
  ListParams,
  Outcome,
  ReleaseParams,
  RescueParams,
  RescueResult,
  Retention,
  SettleParams,
  SettleResult,
  Store,
  StoreCapabilities,
  StoreConfig,
  StoreCounts,
  StoreListener,
  Unsubscribe,
} from "../../store/port.js";
import { rowToClaimed as toClaimed, rowToJob as toJob } from "../../store/job-row.js";
import { migrate } from "./schema.js";
import { prepareStatements } from "./statements.js";
import type { LeaseRow, RunnableRow, Statements } from "./statements.js";

export interface SqliteStoreOptions {
  /** Database file; created if missing. Default "./optiq.db". */
  path?: string;
  /** How long a write waits for another process's transaction before failing. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * FULL (default) fsyncs every commit. NORMAL (WAL) fsyncs only at checkpoints: the last commits may be
   * lost on an OS crash or power loss, never on an application crash.
   */
  synchronous?: "FULL" | "NORMAL";
  /** How often listeners check for other processes' changes (ms). Default 100. */
  pollIntervalMs?: number;
}

const DEFAULT_RETENTION: Retention = { maxAgeMs: 24 * 3600_000, maxCount: 10_000 };
/** Finished jobs removed per transaction: inline after a settle, and per batch in prune(). */
const TRIM_BATCH = 1000;
/** Change-feed rows are kept this long (wall clock) so a slow poller still sees them. */
const EVENT_RETENTION_MS = 120_000;
/** Prune the change feed after this many events written by this instance. */
const EVENT_PRUNE_EVERY = 256;
const EVENT_PRUNE_BATCH = 5000;
const EVENT_READ_BATCH = 1000;
/** Rows fetched per lane in a claim when the budgets allow more. */
const CLAIM_PAGE = 1000;

const STATE_INDEX: Record<JobState, number> = { queued: 0, running: 1, completed: 2, failed: 3, cancelled: 4 };
const STATES: readonly JobState[] = ["queued", "running", "completed", "failed", "cancelled"];

/** What one write transaction changed, applied before commit and announced after. */
class Effects {
  readonly delta = [0, 0, 0, 0, 0];
  readonly finished: string[] = [];
  readonly cancelRequested: string[] = [];
  available = false;
  /** Set when jobs finished: retention is applied at this time before commit. */
  trimAt: number | null = null;

  move(from: JobState | null, to: JobState | null): void {
    if (from !== null) this.delta[STATE_INDEX[from]]!--;
    if (to !== null) this.delta[STATE_INDEX[to]]!++;
  }
}

interface Lane {
  readonly name: string;
  rows: RunnableRow[];
  pos: number;
  /** The last fetch returned fewer rows than asked: no more eligible rows. */
  done: boolean;
}

/**
 * A durable, shared store in one SQLite file (WAL). Several processes may
 * open the same file: every write is one IMMEDIATE transaction, group limits
 * and counts live in tables, and listeners learn about other processes'
 * writes from an `events` table polled every pollIntervalMs (gated by the
 * nearly free `PRAGMA data_version`). Writes by this instance notify its own
 * listeners synchronously after commit.
 */
export class SqliteStore implements Store {
  readonly capabilities: StoreCapabilities = {
    durable: true,
    shared: true,
    transactionalEnqueue: false,
    writeIntervalMs: 1000,
    inProcess: false,
  };

  readonly path: string;
  private readonly busyTimeoutMs: number;
  private readonly synchronous: "FULL" | "NORMAL";
  private readonly pollIntervalMs: number;

  private lifecycle: "new" | "open" | "closed" = "new";
  private db: Database.Database | null = null;
  private stmts: Statements | null = null;
  private immediate: (<T>(fn: () => T) => T) | null = null;
  /** Identifies this instance's rows in the change feed; new on every init(). */
  private origin = "";
  private retention: Retention = DEFAULT_RETENTION;

  private readonly listeners = new Set<StoreListener>();
  private timer: NodeJS.Timeout | null = null;
  private cursor = 0;
  private seenVersion = -1;
  private eventsSincePrune = 0;

  constructor(options: SqliteStoreOptions = {}) {
    this.path = options.path ?? "./optiq.db";
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.synchronous = options.synchronous ?? "FULL";
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    if (typeof this.path !== "string" || this.path === "")
      throw new ValidationError("options.path", "must be a non-empty string");
    if (!Number.isInteger(this.busyTimeoutMs) || this.busyTimeoutMs < 0) {
      throw new ValidationError("options.busyTimeoutMs", "must be an integer ≥ 0");
    }
    if (this.synchronous !== "FULL" && this.synchronous !== "NORMAL") {
      throw new ValidationError("options.synchronous", 'must be "FULL" or "NORMAL"');
    }
    if (!(this.pollIntervalMs > 0) || !Number.isFinite(this.pollIntervalMs)) {
      throw new ValidationError("options.pollIntervalMs", "must be a positive number");
    }
  }

  // ------------------------------------------------------------------ lifecycle

  init(): Promise<void> {
    try {
      this.open();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(wrap(error, `cannot open ${this.path}`));
    }
  }

  /** Opens the file, sets WAL and the pragmas, migrates and prepares every statement (synchronous). */
  private open(): void {
    if (this.db) return;
    let db: Database.Database | null = null;
    try {
      db = new Database(this.path, { timeout: this.busyTimeoutMs });
      db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
      db.pragma("journal_mode = WAL");
      db.pragma(`synchronous = ${this.synchronous}`);
      migrate(db);
      const stmts = prepareStatements(db);
      const tx = db.transaction((fn: () => unknown) => fn());
      this.immediate = <T>(fn: () => T): T => tx.immediate(fn) as T;
      this.stmts = stmts;
      this.db = db;
      this.origin = randomUUID();
      this.lifecycle = "open";
    } catch (error) {
      try {
        db?.close();
      } catch {
        // already failing; the first error is the one to report
      }
      this.stmts = null;
      this.immediate = null;
      throw error;
    }
  }

  close(): Promise<void> {
    this.stopPolling();
    this.listeners.clear();
    if (this.lifecycle === "open") this.lifecycle = "closed";
    const db = this.db;
    this.db = null;
    this.stmts = null;
    this.immediate = null;
    if (db) {
      try {
        db.close();
      } catch (error) {
        return Promise.reject(wrap(error, "close failed"));
      }
    }
    return Promise.resolve();
  }

  configure(config: StoreConfig): Promise<void> {
    return this.attempt("configure", () => {
      this.retention = config.retention;
      if (config.groups.size === 0) return;
      this.write(() => {
        const s = this.s();
        for (const [name, limits] of config.groups) {
          const concurrency =
            limits.concurrency === undefined || !Number.isFinite(limits.concurrency) ? null : limits.concurrency;
          const rate = limits.rateLimit;
          s.upsertGroup.run(name, concurrency, rate ? rate.limit : null, rate ? rate.intervalMs : null);
        }
      });
    });
  }

  // ------------------------------------------------------------------ job path

  enqueue(params: EnqueueParams): Promise<EnqueueResult[]> {
    return this.attempt("enqueue", () =>
      this.write((fx) => {
        const s = this.s();
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
      }),
    );
  }

  claim(params: ClaimParams): Promise<ClaimResult> {
    return this.attempt("claim", () => this.write((fx) => this.claimIn(params, fx)));
  }

  heartbeat(params: HeartbeatParams): Promise<HeartbeatResult> {
    return this.attempt("heartbeat", () =>
      this.write(() => {
        const s = this.s();
        const lost: string[] = [];
        const cancelRequested: string[] = [];
        const expires = params.now + params.leaseMs;
        for (const entry of params.entries) {
          const id = rowId(entry.id);
          const hasProgress = entry.progress !== undefined;
          const hasCheckpoint = entry.checkpoint !== undefined;
          const row =
            id === null
              ? undefined
              : s.heartbeat.get({
                  id,
                  owner: params.workerId,
                  attempt: entry.attempt,
                  now: params.now,
                  expires,
                  hasProgress: hasProgress ? 1 : 0,
                  progress: hasProgress ? (JSON.stringify(entry.progress) ?? null) : null,
                  hasCheckpoint: hasCheckpoint ? 1 : 0,
                  checkpoint: hasCheckpoint ? (JSON.stringify(entry.checkpoint) ?? null) : null,
                });
          if (!row) lost.push(entry.id);
          else if (row.cancel_requested) cancelRequested.push(entry.id);
        }
        return { lost, cancelRequested };
      }),
    );
  }

  settle(params: SettleParams): Promise<SettleResult[]> {
    return this.attempt("settle", () =>
      this.write((fx) => {
        const s = this.s();
        const { now, workerId } = params;
        // fast path: every plain completion in one guarded statement
        const fast = new Map<number, string | null>();
        const completions: [number, number, string | null][] = [];
        for (const st of params.settlements) {
          const id = st.outcome.kind === "completed" ? rowId(st.id) : null;
          if (id !== null && st.outcome.kind === "completed")
            completions.push([id, st.attempt, st.outcome.resultJson ?? null]);
        }
        if (completions.length > 0) {
          for (const r of s.completeMany.all({ batch: JSON.stringify(completions), owner: workerId, now })) {
            fast.set(r.id, r.group_name);
          }
        }
        const results: SettleResult[] = [];
        for (const st of params.settlements) {
          const id = rowId(st.id);
          if (id !== null && st.outcome.kind === "completed" && fast.has(id)) {
            if (fast.get(id) !== null) fx.available = true;
            fast.delete(id); // a repeated id in the same call is refused below, as the job is no longer running
            fx.move("running", "completed");
            fx.finished.push(st.id);
            fx.trimAt = now;
            results.push({ id: st.id, applied: true, state: "completed" });
            continue;
          }
          const row = id === null ? undefined : s.leaseRow.get(id);
          if (!row || row.state !== "running" || row.lease_owner !== workerId || row.attempt !== st.attempt) {
            results.push({ id: st.id, applied: false, state: row?.state ?? null });
            continue;
          }
          // a requested cancel wins, with the caller's reason; the worker's note (if any) is kept
          const note = st.outcome.kind === "cancelled" ? st.outcome.note : undefined;
          const outcome: Outcome = row.cancel_requested
            ? { kind: "cancelled", reason: row.cancel_reason ?? "cancelled", note }
            : st.outcome;
          const state = this.applyOutcome(row, outcome, now, fx);
          if (row.group_name !== null) fx.available = true;
          if (outcome.kind === "retry" && outcome.runAt <= now) fx.available = true;
          results.push({ id: st.id, applied: true, state });
        }
        return results;
      }),
    );
  }

  release(params: ReleaseParams): Promise<string[]> {
    return this.attempt("release", () =>
      this.write((fx) => {
        const s = this.s();
        const released: string[] = [];
        for (const { id, attempt } of params.jobs) {
          const rowid = rowId(id);
          if (rowid === null) continue;
          const guard = { id: rowid, owner: params.workerId, attempt, now: params.now };
          if (s.releaseClaim.run(guard).changes === 1) {
            fx.move("running", "queued");
            fx.available = true;
            released.push(id);
            continue;
          }
          const row = s.leaseRow.get(rowid);
          if (row?.state === "running" && row.lease_owner === params.workerId && row.attempt === attempt) {
            // its cancel was requested while we held it: it ends cancelled, as a settle would
            this.applyOutcome(row, { kind: "cancelled", reason: row.cancel_reason ?? "cancelled" }, params.now, fx);
          }
        }
        return released;
      }),
    );
  }

  cancel(params: CancelParams): Promise<CancelOutcome> {
    return this.attempt("cancel", () =>
      this.write((fx): CancelOutcome => {
        const s = this.s();
        const id = rowId(params.id);
        const row = id === null ? undefined : s.stateOf.get(id);
        if (id === null || !row) return "not-found";
        if (row.state === "queued") {
          s.cancelQueued.run({ id, now: params.now, reason: params.reason, error: cancelledError(params.reason) });
          fx.move("queued", "cancelled");
          fx.finished.push(String(id));
          fx.trimAt = params.now;
          return "cancelled";
        }
        if (row.state === "running") {
          // idempotent: a second cancel keeps the first reason and notifies again
          if (!row.cancel_requested) s.requestCancel.run(params.reason, id);
          fx.cancelRequested.push(String(id));
          return "requested";
        }
        return "unchanged";
      }),
    );
  }

  rescueExpired(params: RescueParams): Promise<RescueResult> {
    return this.attempt("rescueExpired", () =>
      this.write((fx) => {
        const s = this.s();
        const { now } = params;
        const result: RescueResult = { requeued: [], failed: [], cancelled: [] };
        if (!(params.limit > 0)) return result;
        const limit = Number.isFinite(params.limit) ? params.limit : -1;
        for (const row of s.expired.all(now, limit)) {
          const id = String(row.id);
          if (row.cancel_requested) {
            this.applyOutcome(row, { kind: "cancelled", reason: row.cancel_reason ?? "cancelled" }, now, fx);
            result.cancelled.push(id);
            continue;
          }
          const error: SerializedError = {
            name: "LeaseExpiredError",
            code: "OPTIQ_LEASE_LOST",
            message: `lease expired at attempt ${row.attempt}: the worker stopped heartbeating`,
          };
          if (row.attempt < row.max_attempts) {
            this.applyOutcome(row, { kind: "retry", error, runAt: now }, now, fx);
            result.requeued.push(id);
          } else {
            this.applyOutcome(row, { kind: "failed", error }, now, fx);
            result.failed.push(id);
          }
        }
        if (result.requeued.length + result.failed.length + result.cancelled.length > 0) fx.available = true;
        return result;
      }),
    );
  }

  prune(now: number): Promise<number> {
    return this.attempt("prune", () => {
      let total = 0;
      for (;;) {
        const removed = this.write((fx) => this.trim(now, TRIM_BATCH, fx));
        total += removed;
        if (removed < TRIM_BATCH) break;
      }
      this.write(() => this.pruneEvents());
      return total;
    });
  }

  // ------------------------------------------------------------------ reads

  get(id: string): Promise<Job | null> {
    return this.attempt("get", () => {
      const n = rowId(id);
      const row = n === null ? undefined : this.s().get.get(n);
      return row ? toJob(row) : null;
    });
  }

  list(params: ListParams): Promise<Job[]> {
    return this.attempt("list", () => {
      if (!(params.limit > 0)) return [];
      const before = params.beforeId === undefined ? NaN : Number(params.beforeId);
      const rows = this.s().list.all({
        before: Number.isFinite(before) ? before : Number.MAX_SAFE_INTEGER,
        state: params.state ?? null,
        name: params.name ?? null,
        group: params.group ?? null,
        limit: Number.isFinite(params.limit) ? Math.floor(params.limit) : -1,
      });
      return rows.map(toJob);
    });
  }

  counts(): Promise<StoreCounts> {
    return this.attempt("counts", () => {
      const out: StoreCounts = { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
      for (const r of this.s().counts.all()) out[r.state] = r.n;
      return out;
    });
  }

  subscribe(listener: StoreListener): Promise<Unsubscribe> {
    return this.attempt("subscribe", () => {
      const s = this.s();
      if (this.timer === null) {
        // version first: a commit between the two reads is then seen by the next poll
        this.seenVersion = s.dataVersion.get() ?? -1;
        this.cursor = s.lastEventId.get() ?? 0;
        this.timer = setInterval(() => this.poll(), this.pollIntervalMs);
        this.timer.unref();
      }
      this.listeners.add(listener);
      return (): Promise<void> => {
        this.listeners.delete(listener);
        if (this.listeners.size === 0) this.stopPolling();
        return Promise.resolve();
      };
    });
  }

  // ------------------------------------------------------------------ internals

  /** The statements, opening on first use like the other stores; a closed store must be init()ed again. */
  private s(): Statements {
    if (this.stmts) return this.stmts;
    if (this.lifecycle === "closed") {
      throw new StoreError(`the SQLite store (${this.path}) is closed; call init() to reopen it`);
    }
    this.open();
    return this.stmts!;
  }

  /** Runs fn as a promise, turning driver errors into StoreError. */
  private attempt<T>(operation: string, fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(wrap(error, `${operation} failed`));
    }
  }

  /** One IMMEDIATE transaction; counts, retention and the change feed are updated before commit, listeners told after. */
  private write<T>(fn: (fx: Effects) => T): T {
    const s = this.s();
    const run = this.immediate!;
    const fx = new Effects();
    const result = run(() => {
      const value = fn(fx);
      if (fx.trimAt !== null) this.trim(fx.trimAt, TRIM_BATCH, fx);
      for (let i = 0; i < STATES.length; i++) {
        const d = fx.delta[i]!;
        if (d !== 0) s.addCount.run(d, STATES[i]!);
      }
      this.recordEvents(fx);
      return value;
    });
    this.announce(fx);
    return result;
  }

  private recordEvents(fx: Effects): void {
    const s = this.s();
    const at = Date.now();
    let written = 0;
    if (fx.finished.length > 0) {
      s.addEvent.run(at, this.origin, "finished", JSON.stringify(fx.finished));
      written++;
    }
    if (fx.cancelRequested.length > 0) {
      s.addEvent.run(at, this.origin, "cancel", JSON.stringify(fx.cancelRequested));
      written++;
    }
    if (fx.available) {
      s.addEvent.run(at, this.origin, "available", null);
      written++;
    }
    this.eventsSincePrune += written;
    if (this.eventsSincePrune >= EVENT_PRUNE_EVERY) this.pruneEvents();
  }

  private pruneEvents(): void {
    this.eventsSincePrune = 0;
    this.s().dropEvents.run(EVENT_PRUNE_BATCH, Date.now() - EVENT_RETENTION_MS);
  }

  private announce(fx: Effects): void {
    if (this.listeners.size === 0) return;
    if (fx.finished.length > 0) this.dispatch((l) => l.onFinished?.(fx.finished));
    if (fx.cancelRequested.length > 0) this.dispatch((l) => l.onCancelRequested?.(fx.cancelRequested));
    if (fx.available) this.dispatch((l) => l.onAvailable?.());
  }

  private dispatch(call: (l: StoreListener) => void): void {
    for (const l of [...this.listeners]) {
      try {
        call(l);
      } catch {
        // a listener's failure must not turn a committed write into an error
      }
    }
  }

  private stopPolling(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reports other connections' writes: cheap version check, then the change feed after the cursor. */
  private poll(): void {
    const s = this.stmts;
    if (!s || this.listeners.size === 0) return;
    const finished: string[] = [];
    const cancelRequested: string[] = [];
    let available = false;
    let gap = false;
    try {
      const version = s.dataVersion.get() ?? -1;
      if (version === this.seenVersion) return;
      this.seenVersion = version;
      for (;;) {
        const rows = s.eventsAfter.all(this.cursor, EVENT_READ_BATCH);
        const first = rows[0];
        if (first === undefined) break;
        // ids come from AUTOINCREMENT and are never reused: a hole means pruned before we read it
        if (first.id > this.cursor + 1) gap = true;
        for (const r of rows) {
          this.cursor = r.id;
          if (r.origin === this.origin) continue;
          if (r.kind === "available") available = true;
          else if (r.ids !== null)
            (r.kind === "finished" ? finished : cancelRequested).push(...(JSON.parse(r.ids) as string[]));
        }
        if (rows.length < EVENT_READ_BATCH) break;
      }
    } catch {
      // e.g. the file is briefly locked by a checkpoint: try again at the next tick
    }
    if (finished.length > 0) this.dispatch((l) => l.onFinished?.(finished));
    if (cancelRequested.length > 0) this.dispatch((l) => l.onCancelRequested?.(cancelRequested));
    if (available || gap) this.dispatch((l) => l.onAvailable?.());
    if (gap) this.dispatch((l) => l.onResync?.());
  }

  private claimIn(params: ClaimParams, fx: Effects): ClaimResult {
    const s = this.s();
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

    // group budgets, computed from the table (shared by every process) on first use
    const groupBudget = new Map<string, number>();
    const rateLimited = new Map<string, { limit: number; intervalMs: number }>();
    const blocked = new Set<string>();
    const budgetOf = (group: string): number => {
      const cached = groupBudget.get(group);
      if (cached !== undefined) return cached;
      const cfg = s.group.get(group);
      let budget = Infinity;
      if (cfg) {
        if (cfg.concurrency !== null) budget = cfg.concurrency - (s.groupRunning.get(group) ?? 0);
        if (cfg.rate_limit !== null && cfg.rate_interval_ms !== null) {
          const rate = { limit: cfg.rate_limit, intervalMs: cfg.rate_interval_ms };
          rateLimited.set(group, rate);
          s.dropStarts.run(group, now - rate.intervalMs);
          const inWindow = s.startsSince.get(group, now - rate.intervalMs) ?? 0;
          budget = Math.min(budget, Math.max(0, rate.limit - inWindow));
        }
      }
      groupBudget.set(group, budget);
      if (budget <= 0) blocked.add(group);
      return budget;
    };

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
      fx.delta[STATE_INDEX.queued]! -= rows.length;
      fx.delta[STATE_INDEX.running]! += rows.length;
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
      if (group !== null && budgetOf(group) <= 0) continue; // now blocked: headOf skips it
      bestLane.pos++;
      chosen.push(best.id);
      limit--;
      nameBudget.set(bestLane.name, (nameBudget.get(bestLane.name) ?? 1) - 1);
      if (group !== null) {
        const left = (groupBudget.get(group) ?? Infinity) - 1;
        groupBudget.set(group, left);
        if (left <= 0) blocked.add(group);
        if (rateLimited.has(group)) s.addStart.run(group, now);
      }
    }
    leaseChosen();
    // a group with waiting work whose window is full (before or because of this claim) reopens later
    for (const lane of lanes) {
      for (let i = lane.pos; i < lane.rows.length; i++) {
        const g = lane.rows[i]!.group_name;
        if (g !== null) budgetOf(g);
      }
    }
    for (const [group, rate] of rateLimited) {
      if (rate.limit <= 0) continue;
      if ((s.startsSince.get(group, now - rate.intervalMs) ?? 0) < rate.limit) continue;
      const nth = s.nthLatestStart.get(group, rate.limit - 1);
      if (nth !== undefined) noteLater(nth + rate.intervalMs);
    }
    return { jobs, nextRunAt };
  }

  /** Applies a settle outcome to a running job (guarded); returns the new state. */
  private applyOutcome(row: LeaseRow, outcome: Outcome, now: number, fx: Effects): JobState {
    const s = this.s();
    const guard = { id: row.id, owner: row.lease_owner ?? "", attempt: row.attempt, now };
    let state: JobState;
    let changes: number;
    switch (outcome.kind) {
      case "completed":
        state = "completed";
        changes = s.complete.run({ ...guard, result: outcome.resultJson ?? null }).changes;
        break;
      case "failed":
        state = "failed";
        changes = s.fail.run({ ...guard, ...errorColumns(row, outcome.error, now) }).changes;
        break;
      case "retry":
        state = "queued";
        changes = s.retry.run({ ...guard, ...errorColumns(row, outcome.error, now), runAt: outcome.runAt }).changes;
        break;
      case "cancelled":
        state = "cancelled";
        changes = s.cancelRunning.run({
          ...guard,
          reason: outcome.reason,
          error: cancelledError(outcome.reason, outcome.note),
        }).changes;
        break;
    }
    if (changes !== 1) throw new StoreError(`job ${row.id}: guarded update matched ${changes} rows`);
    fx.move("running", state);
    if (state !== "queued") {
      fx.finished.push(String(row.id));
      fx.trimAt = now;
    }
    return state;
  }

  /**
   * Drops finished jobs beyond the retention count or age, oldest first, at
   * most `max`, inside the caller's transaction (fx carries the count changes).
   */
  private trim(now: number, max: number, fx: Effects): number {
    const s = this.s();
    const { maxCount, maxAgeMs } = this.retention;
    let removed = 0;
    const finished = (s.finishedCount.get() ?? 0) + fx.delta[2]! + fx.delta[3]! + fx.delta[4]!;
    const excess = Math.min(finished - maxCount, max);
    if (excess > 0) {
      const rows = s.dropOldest.all(Math.ceil(excess));
      for (const r of rows) fx.move(r.state, null);
      removed += rows.length;
    }
    if (removed < max && Number.isFinite(maxAgeMs)) {
      const rows = s.dropOlderThan.all(now - maxAgeMs, max - removed);
      for (const r of rows) fx.move(r.state, null);
      removed += rows.length;
    }
    return removed;
  }
}

// -------------------------------------------------------------------- helpers

/** Job ids are decimal row ids; anything else names no job. */
function rowId(id: string): number | null {
  if (!/^[1-9][0-9]{0,15}$/.test(id)) return null;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : null;
}

function runsBefore(a: RunnableRow, b: RunnableRow): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.run_at !== b.run_at) return a.run_at < b.run_at;
  return a.id < b.id;
}

function cancelledError(reason: string, note?: string): string {
  const error: SerializedError = {
    name: "JobCancelledError",
    code: "OPTIQ_JOB_CANCELLED",
    message: note ? `cancelled: ${reason}; ${note}` : `cancelled: ${reason}`,
  };
  return JSON.stringify(error);
}

function errorColumns(row: LeaseRow, error: SerializedError, now: number): { error: string; errors: string } {
  const history = row.errors === null ? [] : (JSON.parse(row.errors) as AttemptError[]);
  history.push({ attempt: row.attempt, at: now, error });
  return { error: JSON.stringify(error), errors: JSON.stringify(history) };
}

function wrap(error: unknown, context: string): Error {
  if (error instanceof OptiqError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StoreError(`SQLite store: ${context}: ${message}`, { cause: error });
}
