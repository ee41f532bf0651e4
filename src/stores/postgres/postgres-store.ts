import type pg from "pg";
import { StoreError } from "../../core/errors.js";
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
import { rowToJob as toJob, type JobRow } from "../../store/job-row.js";
import { ClaimPath, claim } from "./claim.js";
import { Connections, type Queryable } from "./connection.js";
import { clampInt, num, validId } from "./convert.js";
import { Counts } from "./counts.js";
import { insertJobs } from "./enqueue.js";
import { toStoreError } from "./errors.js";
import { HeartbeatWriter } from "./heartbeat.js";
import { checkSchemaName } from "./identifiers.js";
import { NotificationListener, channelsOf, type Channels } from "./listener.js";
import { StorePool } from "./pool.js";
import { cancel, release, rescueExpired, settle } from "./settle.js";
import { Sql, type Statement } from "./sql.js";

export type { Queryable } from "./connection.js";

export interface PostgresStoreOptions {
  /** Default: process.env.DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres. Ignored for queries when `pool` is given. */
  connectionString?: string;
  /** Schema holding optiq's tables; created by init(). Default "optiq". */
  schema?: string;
  /** Bring your own pool; the store then never ends it. */
  pool?: pg.Pool;
  /** Connections in the pool the store creates. Default 10. */
  poolSize?: number;
  /** Backstop: onAvailable() fires this often even without notifications. Default 1000 ms; 0 disables it. */
  pollIntervalMs?: number;
  /** application_name of the store's connections (visible in pg_stat_activity). Default "optiq". */
  applicationName?: string;
  /**
   * Told about connection errors the store recovers from by itself (an idle
   * pooled connection or the LISTEN connection dropped), e.g. to log them.
   * Never thrown. Default: ignored.
   */
  onError?: (error: unknown) => void;
}

const DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres";
const DEFAULT_RETENTION: Retention = { maxAgeMs: 24 * 3600_000, maxCount: 10_000 };
const PRUNE_BATCH = 5_000;

/**
 * The PostgreSQL store: durable and shared by a fleet of processes.
 *
 * - Claims take queued jobs with FOR UPDATE SKIP LOCKED in one statement;
 *   jobs of groups with fleet-wide limits go through a short transaction that
 *   locks the groups' rows first, so limits hold under concurrent claimers.
 * - Every state change is guarded (state, lease owner, attempt), so a job
 *   reaches one terminal state once whatever the races.
 * - Wake-ups travel by LISTEN/NOTIFY (sent in the writing transaction), with
 *   a polling backstop; counts come from trigger-maintained deltas.
 * - enqueueWith() enqueues inside the caller's own transaction.
 */
export class PostgresStore implements Store {
  readonly capabilities: StoreCapabilities = {
    durable: true,
    shared: true,
    transactionalEnqueue: true,
    writeIntervalMs: 1000,
    inProcess: false,
  };

  readonly schema: string;
  private readonly sql: Sql;
  private readonly channels: Channels;
  private readonly pollIntervalMs: number;
  private readonly storePool: StorePool;
  private readonly db: Connections;
  private readonly stateCounts: Counts;
  private readonly claimPath = new ClaimPath();
  private readonly heartbeats: HeartbeatWriter;
  private opening: Promise<void> | null = null;
  private state: "new" | "open" | "closed" = "new";
  private listener: NotificationListener | null = null;
  private retention: Retention = DEFAULT_RETENTION;
  private readonly reportError: (error: unknown) => void;

  constructor(options: PostgresStoreOptions = {}) {
    this.schema = checkSchemaName(options.schema ?? "optiq");
    this.channels = channelsOf(this.schema);
    this.sql = new Sql(this.schema, this.channels);
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    const onError = options.onError;
    this.reportError = (error) => {
      try {
        onError?.(error);
      } catch {
        // a failing error hook must not become an unhandled error
      }
    };
    this.storePool = new StorePool(
      options.pool,
      {
        connectionString: options.connectionString ?? process.env.DATABASE_URL ?? DEFAULT_URL,
        poolSize: options.poolSize ?? 10,
        applicationName: options.applicationName ?? "optiq",
      },
      this.reportError,
    );
    this.db = new Connections(() => this.ready());
    this.stateCounts = new Counts(this.db, this.sql, this.schema);
    this.heartbeats = new HeartbeatWriter(this.db, this.sql);
  }

  // ------------------------------------------------------------- lifecycle

  init(): Promise<void> {
    if (this.state === "open") return Promise.resolve();
    if (this.opening) return this.opening;
    const opening = this.open().finally(() => {
      if (this.opening === opening) this.opening = null;
    });
    this.opening = opening;
    return opening;
  }

  private async open(): Promise<void> {
    await this.storePool.open(this.schema, this.sql);
    this.state = "open";
  }

  async close(): Promise<void> {
    if (this.opening) await this.opening.catch(() => undefined);
    if (this.state !== "open") {
      this.state = this.state === "new" ? "new" : "closed";
      return;
    }
    this.state = "closed";
    const listener = this.listener;
    this.listener = null;
    if (listener) await listener.stop();
    await this.storePool.release();
  }

  /** The pool, initialising on first use (a closed store must be init()ed again). */
  private async ready(): Promise<pg.Pool> {
    if (this.state !== "open") {
      if (this.state === "closed" && !this.opening)
        throw new StoreError("PostgresStore is closed; call init() to reopen it");
      await this.init();
    }
    return this.pool!;
  }

  // `pool`, `run` and `sql` stay on the store although the modules hold the real work:
  // test/stores/postgres (connection-loss, concurrency) reach them through casts
  private get pool(): pg.Pool | null {
    return this.storePool.current;
  }

  /** One statement on a pooled connection (see Connections.run for the retry rules). */
  private run<R extends pg.QueryResultRow>(
    operation: string,
    statement: Statement | { text: string },
    values: unknown[],
    retry: boolean,
  ): Promise<R[]> {
    return this.db.run<R>(operation, statement, values, retry);
  }

  // ------------------------------------------------------------- configure

  async configure(config: StoreConfig): Promise<void> {
    this.retention = config.retention;
    const groups = [...config.groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (groups.length === 0) {
      await this.ready();
      return;
    }
    await this.run(
      "configure",
      this.sql.configureGroups,
      [
        groups.map(([name]) => name),
        groups.map(([, l]) => l.concurrency ?? null),
        groups.map(([, l]) => l.rateLimit?.limit ?? null),
        groups.map(([, l]) => l.rateLimit?.intervalMs ?? null),
      ],
      true,
    );
  }

  // ------------------------------------------------------------ job writes

  async enqueue(params: EnqueueParams): Promise<EnqueueResult[]> {
    if (params.jobs.length === 0) return [];
    this.stateCounts.wrote();
    const insert = (client: pg.PoolClient): Promise<EnqueueResult[]> =>
      insertJobs(client, this.sql, this.schema, params);
    if (params.maxQueued === null) return this.db.single("enqueue", insert);
    // the cap is checked and the jobs inserted under one lock, in one transaction
    return this.db.transaction("enqueue", false, insert);
  }

  /**
   * Enqueues inside the caller's own transaction: the jobs exist exactly when
   * the caller commits (and workers are woken then). With maxQueued, the
   * check holds a transaction-level lock until the caller's transaction ends.
   * Errors abort the caller's transaction, as any failed statement does.
   */
  async enqueueWith(client: Queryable, params: EnqueueParams): Promise<EnqueueResult[]> {
    if (params.jobs.length === 0) return [];
    await this.ready();
    try {
      return await insertJobs(client, this.sql, this.schema, params);
    } catch (error) {
      throw toStoreError("enqueueWith", error);
    }
  }

  claim(params: ClaimParams): Promise<ClaimResult> {
    return claim(this.db, this.sql, this.stateCounts, this.claimPath, params);
  }

  heartbeat(params: HeartbeatParams): Promise<HeartbeatResult> {
    return this.heartbeats.write(params);
  }

  settle(params: SettleParams): Promise<SettleResult[]> {
    return settle(this.db, this.sql, this.stateCounts, params);
  }

  release(params: ReleaseParams): Promise<string[]> {
    return release(this.db, this.sql, this.stateCounts, params);
  }

  cancel(params: CancelParams): Promise<CancelOutcome> {
    return cancel(this.db, this.sql, params);
  }

  rescueExpired(params: RescueParams): Promise<RescueResult> {
    return rescueExpired(this.db, this.sql, this.stateCounts, params);
  }

  // ------------------------------------------------------------- retention

  async prune(now: number): Promise<number> {
    const { maxAgeMs, maxCount } = this.retention;
    let total = 0;
    for (;;) {
      const rows = await this.run<{ n: number }>("prune", this.sql.prune, [now, maxAgeMs, maxCount, PRUNE_BATCH], true);
      const n = num(rows[0]?.n ?? 0);
      total += n;
      if (n < PRUNE_BATCH) break;
    }
    await this.stateCounts.compact();
    return total;
  }

  // ----------------------------------------------------------------- reads

  async get(id: string): Promise<Job | null> {
    if (!validId(id)) return null;
    const rows = await this.run<JobRow>("get", this.sql.get, [id], true);
    return rows[0] ? toJob(rows[0]) : null;
  }

  async list(params: ListParams): Promise<Job[]> {
    const limit = clampInt(params.limit);
    if (limit === 0) return [];
    // ids below 1 page past everything; other strings that are not ids filter nothing (as in the memory store)
    if (params.beforeId !== undefined && /^0+$/.test(params.beforeId)) return [];
    const beforeId = params.beforeId !== undefined && validId(params.beforeId) ? params.beforeId : undefined;
    const values: unknown[] = [limit];
    if (params.state !== undefined) values.push(params.state);
    if (params.name !== undefined) values.push(params.name);
    if (params.group !== undefined) values.push(params.group);
    if (beforeId !== undefined) values.push(beforeId);
    const statement = this.sql.list({
      state: params.state !== undefined,
      name: params.name !== undefined,
      group: params.group !== undefined,
      beforeId: beforeId !== undefined,
    });
    const rows = await this.run<JobRow>("list", statement, values, true);
    return rows.map(toJob);
  }

  counts(): Promise<StoreCounts> {
    return this.stateCounts.read();
  }

  // ------------------------------------------------------------- wake-ups

  async subscribe(listener: StoreListener): Promise<Unsubscribe> {
    await this.ready();
    if (!this.listener) {
      this.listener = new NotificationListener(
        () => this.storePool.makeListenClient(),
        this.channels,
        this.pollIntervalMs,
        this.reportError,
      );
    }
    const current = this.listener;
    await current.add(listener);
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      if (this.listener === current) await current.remove(listener);
    };
  }

  /** For tests and health checks: the backend pid of the LISTEN connection, and how often it reconnected. */
  get listenerInfo(): { pid: number | null; reconnects: number } {
    return { pid: this.listener?.pid ?? null, reconnects: this.listener?.reconnects ?? 0 };
  }
}
