import pg from "pg";
import { QueueFullError, StoreError } from "../../core/errors.js";
import type { Job } from "../../core/job.js";
import type { JobState } from "../../core/states.js";
import type {
  CancelOutcome,
  CancelParams,
  ClaimParams,
  ClaimResult,
  EnqueueParams,
  EnqueueResult,
  HeartbeatEntry,
  HeartbeatParams,
  HeartbeatResult,
  ListParams,
  ReleaseParams,
  RescueParams,
  RescueResult,
  Retention,
  SettleParams,
  SettleResult,
  Settlement,
  Store,
  StoreCapabilities,
  StoreConfig,
  StoreCounts,
  StoreListener,
  Unsubscribe,
} from "../../store/port.js";
import { rowToClaimed as toClaimed, rowToJob as toJob, type ClaimedRow, type JobRow } from "../../store/job-row.js";
import { isConnectionError, toStoreError } from "./errors.js";
import { checkSchemaName } from "./identifiers.js";
import { NotificationListener, channelsOf, type Channels } from "./listener.js";
import { migrate } from "./migrate.js";
import { Sql, type Statement } from "./sql.js";

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

/** Anything that runs queries: a pool, a pooled client, a plain client. */
export type Queryable = Pick<pg.ClientBase, "query">;

const DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres";
const DEFAULT_RETENTION: Retention = { maxAgeMs: 24 * 3600_000, maxCount: 10_000 };
const INT_MAX = 2_147_483_647;
const PRUNE_BATCH = 5_000;
/** Connections opened (with their hot statements prepared) when the store opens. */
const WARM_CONNECTIONS = 3;
/** Write statements between two compactions of the count deltas (rescue and prune compact too). */
const COMPACT_EVERY = 500;
const ID_PATTERN = /^[1-9]\d{0,18}$/;
const MAX_ID = 9_223_372_036_854_775_807n;

/** Ids are bigint in the database; anything else cannot name a job. */
function validId(id: string): boolean {
  return ID_PATTERN.test(id) && BigInt(id) <= MAX_ID;
}

function compareIds(a: string, b: string): number {
  return a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
}

function num(value: unknown): number {
  return typeof value === "number" ? value : Number(value);
}

function numOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

interface PendingBeat {
  params: HeartbeatParams;
  resolve: (result: HeartbeatResult) => void;
  reject: (error: unknown) => void;
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

function clampInt(n: number): number {
  if (!(n > 0)) return 0;
  return n >= INT_MAX ? INT_MAX : Math.floor(n);
}

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
  private readonly connectionString: string;
  private readonly poolSize: number;
  private readonly pollIntervalMs: number;
  private readonly applicationName: string;
  private readonly ownPool: boolean;
  private pool: pg.Pool | null;
  private opening: Promise<void> | null = null;
  private state: "new" | "open" | "closed" = "new";
  private listener: NotificationListener | null = null;
  private retention: Retention = DEFAULT_RETENTION;
  /** Write statements since counts were last compacted by this instance. */
  private writes = 0;
  /** Heartbeat calls waiting for the one in flight (see heartbeat()). */
  private beats: PendingBeat[] = [];
  private beating = false;
  private readonly reportError: (error: unknown) => void;
  /** An idle pooled connection died (pg_terminate_backend, restart): the pool drops it and opens another. */
  private readonly onPoolError = (error: unknown): void => this.reportError(error);
  /**
   * Every pooled connection gets a permanent error listener when it connects.
   * pg-pool detaches its own idle listener when it hands a connection out, and
   * a new connection is handed out while pg is still parsing the socket chunk
   * that completed the handshake: a FATAL in the same chunk (a backend
   * terminated right after it started) would otherwise be emitted with no
   * listener at all, and crash the process.
   */
  private readonly onPoolConnect = (client: pg.PoolClient): void => {
    client.on("error", ignoreError);
  };

  constructor(options: PostgresStoreOptions = {}) {
    this.schema = checkSchemaName(options.schema ?? "optiq");
    this.channels = channelsOf(this.schema);
    this.sql = new Sql(this.schema, this.channels);
    this.connectionString = options.connectionString ?? process.env.DATABASE_URL ?? DEFAULT_URL;
    this.poolSize = options.poolSize ?? 10;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.applicationName = options.applicationName ?? "optiq";
    this.ownPool = options.pool === undefined;
    this.pool = options.pool ?? null;
    const onError = options.onError;
    this.reportError = (error) => {
      try {
        onError?.(error);
      } catch {
        // a failing error hook must not become an unhandled error
      }
    };
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
    if (!this.pool) {
      this.pool = new pg.Pool({
        connectionString: this.connectionString,
        max: this.poolSize,
        application_name: this.applicationName,
        allowExitOnIdle: true,
        // queue statements are short OLTP: JIT compilation (for big batches' cost estimates) only adds latency
        options: "-c jit=off",
      });
    }
    this.pool.on("error", this.onPoolError);
    this.pool.on("connect", this.onPoolConnect);
    try {
      await migrate(this.pool, this.schema);
    } catch (error) {
      // one retry on a fresh connection if the first one was lost mid-way
      if (!isConnectionError(error) && !isConnectionError((error as { cause?: unknown }).cause)) {
        await this.releasePool();
        throw toStoreError("init", error);
      }
      try {
        await migrate(this.pool, this.schema);
      } catch (again) {
        await this.releasePool();
        throw toStoreError("init", again);
      }
    }
    // a pool the caller gave us may be small or busy: it is theirs to warm
    if (this.ownPool) await this.warmPool(this.pool);
    this.state = "open";
  }

  /**
   * Opens a few connections and prepares the claim and settle statements on
   * each (with inputs that touch no row), so the first claims and outcome
   * writes of a worker do not also pay for a connection and a query plan —
   * 5 to 10 ms each, on the path of the first jobs. Best effort.
   */
  private async warmPool(pool: pg.Pool): Promise<void> {
    const count = Math.min(WARM_CONNECTIONS, this.poolSize);
    const clients = (await Promise.allSettled(Array.from({ length: count }, () => pool.connect())))
      .filter((r): r is PromiseFulfilledResult<pg.PoolClient> => r.status === "fulfilled")
      .map((r) => r.value);
    await Promise.all(
      clients.map(async (client) => {
        let broken: Error | undefined;
        const onError = (error: Error): void => {
          broken = error;
        };
        client.on("error", onError);
        try {
          await client.query({ ...this.sql.claimFast, values: [0, "", [], [], 0, 0] });
          await client.query({ ...this.sql.settle, values: ["", 0, [], [], [], [], [], [], [], [], []] });
        } catch (error) {
          if (isConnectionError(error)) broken ??= error as Error;
        } finally {
          client.removeListener("error", onError);
          client.release(broken);
        }
      }),
    );
  }

  private async releasePool(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    pool.removeListener("error", this.onPoolError);
    pool.removeListener("connect", this.onPoolConnect);
    if (this.ownPool) {
      this.pool = null;
      await pool.end().catch(() => undefined);
    }
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
    await this.releasePool();
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

  // ---------------------------------------------------------- query helpers

  /**
   * Runs one statement on a pooled connection. A lost connection is retried
   * once on a fresh one when `retry` (reads, claims, idempotent writes), or
   * whatever the statement when it provably never reached the server;
   * otherwise it surfaces as a StoreError.
   */
  private async run<R extends pg.QueryResultRow>(
    operation: string,
    statement: Statement | { text: string },
    values: unknown[],
    retry: boolean,
  ): Promise<R[]> {
    const config = { ...statement, values };
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect(operation, attempt);
      if (!client) continue;
      let broken: Error | undefined;
      const onError = (error: Error): void => {
        broken = error;
      };
      client.on("error", onError);
      try {
        return (await client.query<R>(config)).rows;
      } catch (error) {
        if (!isConnectionError(error)) throw toStoreError(operation, error);
        broken ??= error as Error;
        if (attempt > 1 || !(retry || neverSent(error))) throw toStoreError(operation, error);
      } finally {
        client.removeListener("error", onError);
        client.release(broken);
      }
      await settleSockets();
    }
  }

  /**
   * Runs `fn` (autocommit statements) on one pooled connection; a lost
   * connection surfaces as a StoreError (a failure to connect is retried once).
   */
  private async single<T>(operation: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect(operation, attempt);
      if (!client) continue;
      let broken: Error | undefined;
      const onError = (error: Error): void => {
        broken = error;
      };
      client.on("error", onError);
      try {
        return await fn(client);
      } catch (error) {
        if (isConnectionError(error)) broken ??= error as Error;
        throw toStoreError(operation, error);
      } finally {
        client.removeListener("error", onError);
        client.release(broken);
      }
    }
  }

  /** A pooled connection; null asks the caller to try again (a first failure to connect is retried once). */
  private async connect(operation: string, attempt: number): Promise<pg.PoolClient | null> {
    const pool = await this.ready();
    try {
      return await pool.connect();
    } catch (error) {
      if (attempt === 1 && isConnectionError(error)) {
        await settleSockets();
        return null;
      }
      throw toStoreError(operation, error);
    }
  }

  /**
   * Runs `fn` inside a transaction on one pooled connection. The client gets
   * an error listener while checked out (a terminated connection must not
   * crash the process) and is discarded, not reused, if it broke. A lost
   * connection before COMMIT was sent rolled everything back, so that is
   * retried once whatever `retry` says; a loss during COMMIT is ambiguous and
   * is retried only when `retry`.
   */
  private async transaction<T>(
    operation: string,
    retry: boolean,
    fn: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect(operation, attempt);
      if (!client) continue;
      let broken: Error | undefined;
      let committing = false;
      const onError = (error: Error): void => {
        broken = error;
      };
      client.on("error", onError);
      try {
        await client.query("BEGIN");
        const result = await fn(client);
        committing = true;
        await client.query("COMMIT");
        return result;
      } catch (error) {
        if (!isConnectionError(error)) {
          if (!broken) await client.query("ROLLBACK").catch(() => undefined);
          throw toStoreError(operation, error);
        }
        broken ??= error as Error;
        if (attempt > 1 || (committing && !retry)) throw toStoreError(operation, error);
      } finally {
        client.removeListener("error", onError);
        client.release(broken);
      }
      await settleSockets();
    }
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

  // --------------------------------------------------------------- enqueue

  async enqueue(params: EnqueueParams): Promise<EnqueueResult[]> {
    if (params.jobs.length === 0) return [];
    this.wrote();
    if (params.maxQueued === null) return this.single("enqueue", (client) => this.insertJobs(client, params));
    // the cap is checked and the jobs inserted under one lock, in one transaction
    return this.transaction("enqueue", false, (client) => this.insertJobs(client, params));
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
      return await this.insertJobs(client, params);
    } catch (error) {
      throw toStoreError("enqueueWith", error);
    }
  }

  private async insertJobs(db: Queryable, params: EnqueueParams): Promise<EnqueueResult[]> {
    const { jobs, now, maxQueued } = params;
    const withCap = maxQueued !== null;
    if (withCap) await db.query({ ...this.sql.enqueueLock, values: [`optiq.enqueue:${this.schema}`] });
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
      ...this.sql.enqueue(withCap),
      values,
    });
    if (withCap && rows[0]?.ok === false) throw new QueueFullError(Number(rows[0].queued), maxQueued);
    const results: EnqueueResult[] = rows.map((r) => ({ id: r.id ?? "", created: r.id !== null }));
    // keys that already existed (in the store, or earlier in this batch): read their ids now
    const missing = rows.filter((r) => r.id === null).map((r) => r.key!);
    if (missing.length > 0) {
      const found = await db.query<{ id: string; key: string }>({
        ...this.sql.idsByKey,
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

  // ----------------------------------------------------------------- claim

  async claim(params: ClaimParams): Promise<ClaimResult> {
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
      const rows = await this.run<{ next_run_at: number | null }>("claim", this.sql.nextRun, [params.now], true);
      return { jobs: [], nextRunAt: numOrNull(rows[0]?.next_run_at) };
    }
    this.wrote();
    const rows = await this.run<ClaimedRow & { blocked: boolean; next_run_at: number | null }>(
      "claim",
      this.sql.claimFast,
      [params.now, params.workerId, names, budgets, limit, params.leaseMs],
      true,
    );
    const first = rows[0];
    if (first?.blocked) return this.claimLimited(params, names, budgets, limit);
    const jobs = rows.filter((r) => r.id !== null).map(toClaimed);
    jobs.sort(claimOrder);
    return { jobs, nextRunAt: numOrNull(first?.next_run_at) };
  }

  /** The locking path: runnable jobs of limited groups exist for these names. */
  private claimLimited(params: ClaimParams, names: string[], budgets: number[], limit: number): Promise<ClaimResult> {
    const { now } = params;
    return this.transaction("claim", true, async (client) => {
      const locked = (await client.query<{ name: string }>({ ...this.sql.lockGroups, values: [names, now] })).rows.map(
        (r) => r.name,
      );
      const { rows } = await client.query<{
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
      }>({ ...this.sql.claimCandidates, values: [now, names, budgets, limit, locked] });

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
      if (chosen.length === 0) return { jobs: [], nextRunAt };
      const rateLimited = windows.map((w) => w.group);
      const claimed = await client.query<ClaimedRow>({
        ...this.sql.claimIds,
        values: [now, params.workerId, params.leaseMs, chosen, rateLimited],
      });
      const jobs = claimed.rows.map(toClaimed);
      jobs.sort(claimOrder);
      return { jobs, nextRunAt };
    });
  }

  // ------------------------------------------------------------- heartbeat

  /**
   * Heartbeats of this instance are written one statement at a time, in call
   * order: calls made while one is in flight are merged into the next
   * statement (later progress/checkpoint win). Two statements on two pooled
   * connections could otherwise commit out of order and leave an older
   * checkpoint over a newer one.
   */
  heartbeat(params: HeartbeatParams): Promise<HeartbeatResult> {
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
    const rows = await this.run<{ id: string; attempt: number; cancel_requested: boolean }>(
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

  // ---------------------------------------------------------------- settle

  async settle(params: SettleParams): Promise<SettleResult[]> {
    const { settlements, now } = params;
    if (settlements.length === 0) return [];
    // duplicates of (id, attempt) after the first can never apply: the first one moved the job on
    const firstIndex = new Map<string, number>();
    const send: Settlement[] = [];
    settlements.forEach((s, i) => {
      const k = `${s.id}:${s.attempt}`;
      if (!validId(s.id) || firstIndex.has(k)) return;
      firstIndex.set(k, i);
      send.push(s);
    });
    const byKey = new Map<string, SettleResult>();
    if (send.length > 0) {
      this.wrote();
      const rows = await this.run<{ id: string; attempt: number; state: JobState }>(
        "settle",
        this.sql.settle,
        [
          params.workerId,
          now,
          send.map((s) => s.id),
          send.map((s) => s.attempt),
          send.map((s) => s.outcome.kind),
          send.map((s) => (s.outcome.kind === "completed" ? s.outcome.resultJson : null)),
          send.map((s) =>
            s.outcome.kind === "failed" || s.outcome.kind === "retry" ? JSON.stringify(s.outcome.error) : null,
          ),
          send.map((s) =>
            s.outcome.kind === "failed" || s.outcome.kind === "retry"
              ? JSON.stringify({ attempt: s.attempt, at: now, error: s.outcome.error })
              : null,
          ),
          send.map((s) => (s.outcome.kind === "retry" ? s.outcome.runAt : null)),
          send.map((s) => (s.outcome.kind === "cancelled" ? s.outcome.reason : null)),
          send.map((s) => (s.outcome.kind === "cancelled" ? (s.outcome.note ?? null) : null)),
        ],
        false,
      );
      for (const r of rows) {
        const id = String(r.id);
        byKey.set(`${id}:${num(r.attempt)}`, { id, applied: true, state: r.state });
      }
      // refused by the guard: report the job's current state (null if it does not exist)
      const refused = send.filter((s) => !byKey.has(`${s.id}:${s.attempt}`));
      if (refused.length > 0) {
        // the settle has committed: a failure here must not hide that, so it only costs the states
        const states = await this.run<{ id: string; state: JobState }>(
          "settle",
          this.sql.states,
          [refused.map((s) => s.id)],
          true,
        ).catch(() => []);
        const stateOf = new Map(states.map((r) => [String(r.id), r.state]));
        for (const s of refused)
          byKey.set(`${s.id}:${s.attempt}`, { id: s.id, applied: false, state: stateOf.get(s.id) ?? null });
      }
    }
    return settlements.map((s, i) => {
      const k = `${s.id}:${s.attempt}`;
      const r = byKey.get(k);
      if (!r) return { id: s.id, applied: false, state: null };
      return firstIndex.get(k) === i ? r : { id: s.id, applied: false, state: r.state };
    });
  }

  // ---------------------------------------------------------------- release

  async release(params: ReleaseParams): Promise<string[]> {
    const jobs = params.jobs.filter((j) => validId(j.id));
    if (jobs.length === 0) return [];
    this.wrote();
    const rows = await this.run<{ id: string; state: JobState }>(
      "release",
      this.sql.release,
      [params.workerId, params.now, jobs.map((j) => j.id), jobs.map((j) => j.attempt)],
      false,
    );
    return rows.filter((r) => r.state === "queued").map((r) => String(r.id));
  }

  // ---------------------------------------------------------------- cancel

  async cancel(params: CancelParams): Promise<CancelOutcome> {
    if (!validId(params.id)) return "not-found";
    const rows = await this.run<{ new_state: JobState | null; old_state: JobState | null }>(
      "cancel",
      this.sql.cancel,
      [params.id, params.reason, params.now],
      false,
    );
    const r = rows[0];
    if (r?.new_state === "cancelled") return "cancelled";
    if (r?.new_state === "running") return "requested";
    return r?.old_state ? "unchanged" : "not-found";
  }

  // ---------------------------------------------------------------- rescue

  async rescueExpired(params: RescueParams): Promise<RescueResult> {
    const result: RescueResult = { requeued: [], failed: [], cancelled: [] };
    const limit = clampInt(params.limit);
    if (limit > 0) {
      const rows = await this.run<{ id: string; state: JobState }>(
        "rescueExpired",
        this.sql.rescue,
        [params.now, limit],
        true,
      );
      for (const r of rows) {
        if (r.state === "queued") result.requeued.push(String(r.id));
        else if (r.state === "failed") result.failed.push(String(r.id));
        else result.cancelled.push(String(r.id));
      }
    }
    await this.compactCounts();
    return result;
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
    await this.compactCounts();
    return total;
  }

  /** Notes a write; every COMPACT_EVERY writes, folds the count deltas in the background. */
  private wrote(): void {
    if (++this.writes < COMPACT_EVERY) return;
    void this.compactCounts();
  }

  /** Folds count deltas into the counters (cheap; best effort). */
  private async compactCounts(): Promise<void> {
    this.writes = 0;
    try {
      await this.run("counts", this.sql.compactCounts, [`optiq.counts:${this.schema}`], false);
    } catch {
      // compaction only bounds the delta table; counts stay exact without it
    }
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

  async counts(): Promise<StoreCounts> {
    const rows = await this.run<{ state: JobState; n: number }>("counts", this.sql.counts, [], true);
    const out: StoreCounts = { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const r of rows) if (r.state in out) out[r.state] = num(r.n);
    return out;
  }

  // ------------------------------------------------------------- wake-ups

  async subscribe(listener: StoreListener): Promise<Unsubscribe> {
    await this.ready();
    if (!this.listener) {
      this.listener = new NotificationListener(
        () => this.makeListenClient(),
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

  private makeListenClient(): pg.Client {
    const base: pg.ClientConfig = this.ownPool
      ? { connectionString: this.connectionString }
      : { ...(this.pool?.options as pg.ClientConfig | undefined) };
    return new pg.Client({ ...base, application_name: `${this.applicationName}:listen`, keepAlive: true });
  }

  /** For tests and health checks: the backend pid of the LISTEN connection, and how often it reconnected. */
  get listenerInfo(): { pid: number | null; reconnects: number } {
    return { pid: this.listener?.pid ?? null, reconnects: this.listener?.reconnects ?? 0 };
  }
}

/** The failure reaches whoever is using the connection (a query's rejection, a checked-out listener). */
function ignoreError(): void {}

/**
 * Before a retry: one turn of the event loop, so the pool processes the error
 * events of other idle connections killed at the same time (a failover, a
 * pg_terminate_backend of them all) and does not hand one out again.
 */
function settleSockets(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** pg refuses to send on a connection it already knows is dead: such a statement never ran. */
function neverSent(error: unknown): boolean {
  return error instanceof Error && /not queryable/i.test(error.message);
}

function definedOnly(e: HeartbeatEntry): Partial<HeartbeatEntry> {
  const out: Partial<HeartbeatEntry> = {};
  if (e.progress !== undefined) out.progress = e.progress;
  if (e.checkpoint !== undefined) out.checkpoint = e.checkpoint;
  return out;
}
