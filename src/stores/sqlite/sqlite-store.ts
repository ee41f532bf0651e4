import Database from "better-sqlite3";
import { OptiqError, StoreError, ValidationError } from "../../core/errors.js";
import type { Job } from "../../core/job.js";
import type {
  CancelOutcome,
  CancelParams,
  ClaimParams,
  ClaimResult,
  EnqueueParams,
  EnqueueResult,
  HeartbeatParams,
  HeartbeatResult,
  ListParams,
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
import { rowToJob as toJob } from "../../store/job-row.js";
import { ChangeFeed } from "./change-feed.js";
import { claimJobs } from "./claim.js";
import { rowId } from "./columns.js";
import { Effects, saveCounts } from "./effects.js";
import { enqueueJobs } from "./enqueue.js";
import { saveGroupLimits } from "./group-limits.js";
import { extendLeases } from "./heartbeat.js";
import { DEFAULT_RETENTION, TRIM_BATCH, trimFinished } from "./retention.js";
import { migrate } from "./schema.js";
import { cancelJob, releaseJobs, rescueExpired, settleJobs } from "./settle.js";
import { prepareStatements } from "./statements.js";
import type { Statements } from "./statements.js";

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
  /** How often listeners check for other processes' changes (ms), at the latest. Default 100. */
  pollIntervalMs?: number;
  /**
   * Watch the WAL file for other processes' writes (inotify, FSEvents), so
   * their wake-ups arrive within a millisecond or two instead of at the next
   * poll. Default true; on a file system without change events, polling
   * alone remains.
   */
  watch?: boolean;
}

/**
 * A durable, shared store in one SQLite file (WAL). Several processes may
 * open the same file: every write is one IMMEDIATE transaction, group limits
 * and counts live in tables, and listeners learn about other processes'
 * writes from an `events` table read when the WAL file changes and every
 * pollIntervalMs (gated by the nearly free `PRAGMA data_version`). Writes by
 * this instance notify its own listeners synchronously after commit.
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

  private lifecycle: "new" | "open" | "closed" = "new";
  private db: Database.Database | null = null;
  private stmts: Statements | null = null;
  private immediate: (<T>(fn: () => T) => T) | null = null;
  private retention: Retention = DEFAULT_RETENTION;
  private readonly feed: ChangeFeed;

  constructor(options: SqliteStoreOptions = {}) {
    this.path = options.path ?? "./optiq.db";
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.synchronous = options.synchronous ?? "FULL";
    const pollIntervalMs = options.pollIntervalMs ?? 100;
    const watchWal = options.watch ?? true;
    if (typeof this.path !== "string" || this.path === "")
      throw new ValidationError("options.path", "must be a non-empty string");
    if (!Number.isInteger(this.busyTimeoutMs) || this.busyTimeoutMs < 0) {
      throw new ValidationError("options.busyTimeoutMs", "must be an integer ≥ 0");
    }
    if (this.synchronous !== "FULL" && this.synchronous !== "NORMAL") {
      throw new ValidationError("options.synchronous", 'must be "FULL" or "NORMAL"');
    }
    if (!(pollIntervalMs > 0) || !Number.isFinite(pollIntervalMs)) {
      throw new ValidationError("options.pollIntervalMs", "must be a positive number");
    }
    if (typeof watchWal !== "boolean") throw new ValidationError("options.watch", "must be a boolean");
    this.feed = new ChangeFeed(pollIntervalMs, watchWal && this.path !== ":memory:" ? this.path : null);
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
      this.feed.attach(stmts);
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
    this.feed.detach();
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
      this.write((s) => saveGroupLimits(s, config.groups));
    });
  }

  // ------------------------------------------------------------------ job path

  enqueue(params: EnqueueParams): Promise<EnqueueResult[]> {
    return this.attempt("enqueue", () => this.write((s, fx) => enqueueJobs(s, params, fx)));
  }

  claim(params: ClaimParams): Promise<ClaimResult> {
    return this.attempt("claim", () => this.write((s, fx) => claimJobs(s, params, fx)));
  }

  heartbeat(params: HeartbeatParams): Promise<HeartbeatResult> {
    return this.attempt("heartbeat", () => this.write((s) => extendLeases(s, params)));
  }

  settle(params: SettleParams): Promise<SettleResult[]> {
    return this.attempt("settle", () => this.write((s, fx) => settleJobs(s, params, fx)));
  }

  release(params: ReleaseParams): Promise<string[]> {
    return this.attempt("release", () => this.write((s, fx) => releaseJobs(s, params, fx)));
  }

  cancel(params: CancelParams): Promise<CancelOutcome> {
    return this.attempt("cancel", () => this.write((s, fx) => cancelJob(s, params, fx)));
  }

  rescueExpired(params: RescueParams): Promise<RescueResult> {
    return this.attempt("rescueExpired", () => this.write((s, fx) => rescueExpired(s, params, fx)));
  }

  prune(now: number): Promise<number> {
    return this.attempt("prune", () => {
      let total = 0;
      for (;;) {
        const removed = this.write((s, fx) => trimFinished(s, this.retention, now, TRIM_BATCH, fx));
        total += removed;
        if (removed < TRIM_BATCH) break;
      }
      this.write(() => this.feed.prune());
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
      this.s();
      return this.feed.subscribe(listener);
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
  private write<T>(fn: (s: Statements, fx: Effects) => T): T {
    const s = this.s();
    const run = this.immediate!;
    const fx = new Effects();
    const result = run(() => {
      const value = fn(s, fx);
      if (fx.trimAt !== null) trimFinished(s, this.retention, fx.trimAt, TRIM_BATCH, fx);
      saveCounts(s, fx);
      this.feed.record(fx);
      return value;
    });
    this.feed.announce(fx);
    return result;
  }
}

function wrap(error: unknown, context: string): Error {
  if (error instanceof OptiqError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StoreError(`SQLite store: ${context}: ${message}`, { cause: error });
}
