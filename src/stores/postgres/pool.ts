import pg from "pg";
import { isConnectionError, toStoreError } from "./errors.js";
import { migrate } from "./migrate.js";
import type { Sql } from "./sql.js";

/** Connections opened (with their hot statements prepared) when the store opens. */
const WARM_CONNECTIONS = 3;

export interface PoolSettings {
  readonly connectionString: string;
  readonly poolSize: number;
  readonly applicationName: string;
}

/**
 * The store's connection pool: one it creates (and ends on close) or one the
 * caller gave (which it never ends), with the error listeners that keep a
 * dropped connection from crashing the process, and the schema migrated on open.
 */
export class StorePool {
  private pool: pg.Pool | null;
  private readonly owned: boolean;
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

  constructor(
    given: pg.Pool | undefined,
    private readonly settings: PoolSettings,
    private readonly reportError: (error: unknown) => void,
  ) {
    this.owned = given === undefined;
    this.pool = given ?? null;
  }

  /** The pool; null before open() of a store-owned pool and after release(). */
  get current(): pg.Pool | null {
    return this.pool;
  }

  /** Creates the pool if it is ours, migrates the schema, and warms an own pool. */
  async open(schema: string, sql: Sql): Promise<void> {
    if (!this.pool) {
      this.pool = new pg.Pool({
        connectionString: this.settings.connectionString,
        max: this.settings.poolSize,
        application_name: this.settings.applicationName,
        allowExitOnIdle: true,
        // queue statements are short OLTP: JIT compilation (for big batches' cost estimates) only adds latency
        options: "-c jit=off",
      });
    }
    const pool = this.pool;
    pool.on("error", this.onPoolError);
    pool.on("connect", this.onPoolConnect);
    try {
      await migrate(pool, schema);
    } catch (error) {
      // one retry on a fresh connection if the first one was lost mid-way
      if (!isConnectionError(error) && !isConnectionError((error as { cause?: unknown }).cause)) {
        await this.release();
        throw toStoreError("init", error);
      }
      try {
        await migrate(pool, schema);
      } catch (again) {
        await this.release();
        throw toStoreError("init", again);
      }
    }
    // a pool the caller gave us may be small or busy: it is theirs to warm
    if (this.owned) await warm(pool, sql, Math.min(WARM_CONNECTIONS, this.settings.poolSize));
  }

  /** Detaches the store's listeners; ends the pool if the store created it. */
  async release(): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    pool.removeListener("error", this.onPoolError);
    pool.removeListener("connect", this.onPoolConnect);
    if (this.owned) {
      this.pool = null;
      await pool.end().catch(() => undefined);
    }
  }

  /** A dedicated client (outside the pool) for LISTEN, with the pool's connection settings. */
  makeListenClient(): pg.Client {
    const base: pg.ClientConfig = this.owned
      ? { connectionString: this.settings.connectionString }
      : { ...(this.pool?.options as pg.ClientConfig | undefined) };
    return new pg.Client({ ...base, application_name: `${this.settings.applicationName}:listen`, keepAlive: true });
  }
}

/**
 * Opens a few connections and prepares the claim and settle statements on
 * each (with inputs that touch no row), so the first claims and outcome
 * writes of a worker do not also pay for a connection and a query plan —
 * 5 to 10 ms each, on the path of the first jobs. Best effort.
 */
async function warm(pool: pg.Pool, sql: Sql, count: number): Promise<void> {
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
        await client.query({ ...sql.claimUnlimited, values: [0, "", [], [], 0, 0] });
        await client.query({ ...sql.claimFast, values: [0, "", [], [], 0, 0] });
        await client.query({ ...sql.settle, values: ["", 0, [], [], [], [], [], [], [], [], []] });
      } catch (error) {
        if (isConnectionError(error)) broken ??= error as Error;
      } finally {
        client.removeListener("error", onError);
        client.release(broken);
      }
    }),
  );
}

/** The failure reaches whoever is using the connection (a query's rejection, a checked-out listener). */
function ignoreError(): void {}
