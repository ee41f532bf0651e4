import type pg from "pg";
import { isConnectionError, toStoreError } from "./errors.js";
import type { Statement } from "./sql.js";

/** Anything that runs queries: a pool, a pooled client, a plain client. */
export type Queryable = Pick<pg.ClientBase, "query">;

/**
 * Statements on pooled connections, and what happens when a connection is
 * lost under them. `ready` hands out the store's pool, initialising the store
 * on first use.
 */
export class Connections {
  constructor(private readonly ready: () => Promise<pg.Pool>) {}

  /**
   * Runs one statement on a pooled connection. A lost connection is retried
   * once on a fresh one when `retry` (reads, claims, idempotent writes), or
   * whatever the statement when it provably never reached the server;
   * otherwise it surfaces as a StoreError.
   */
  async run<R extends pg.QueryResultRow>(
    operation: string,
    statement: Statement | { text: string },
    values: unknown[],
    retry: boolean,
  ): Promise<R[]> {
    const config = { ...statement, values };
    for (let attempt = 1; ; attempt++) {
      const out = await this.checkOut(operation, attempt);
      if (!out) continue;
      try {
        return (await out.client.query<R>(config)).rows;
      } catch (error) {
        if (!out.failed(error)) throw toStoreError(operation, error);
        if (attempt > 1 || !(retry || neverSent(error))) throw toStoreError(operation, error);
      } finally {
        out.release();
      }
      await settleSockets();
    }
  }

  /**
   * Runs `fn` (autocommit statements) on one pooled connection; a lost
   * connection surfaces as a StoreError (a failure to connect is retried once).
   */
  async single<T>(operation: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const out = await this.checkOut(operation, attempt);
      if (!out) continue;
      try {
        return await fn(out.client);
      } catch (error) {
        out.failed(error);
        throw toStoreError(operation, error);
      } finally {
        out.release();
      }
    }
  }

  /**
   * Runs `fn` inside a transaction on one pooled connection. A lost
   * connection before COMMIT was sent rolled everything back, so that is
   * retried once whatever `retry` says; a loss during COMMIT is ambiguous and
   * is retried only when `retry`.
   */
  async transaction<T>(operation: string, retry: boolean, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const out = await this.checkOut(operation, attempt);
      if (!out) continue;
      const { client } = out;
      let committing = false;
      try {
        await client.query("BEGIN");
        const result = await fn(client);
        committing = true;
        await client.query("COMMIT");
        return result;
      } catch (error) {
        if (!out.failed(error)) {
          if (!out.broken) await client.query("ROLLBACK").catch(() => undefined);
          throw toStoreError(operation, error);
        }
        if (attempt > 1 || (committing && !retry)) throw toStoreError(operation, error);
      } finally {
        out.release();
      }
      await settleSockets();
    }
  }

  /** A pooled connection; null asks the caller to try again (a first failure to connect is retried once). */
  private async checkOut(operation: string, attempt: number): Promise<CheckedOut | null> {
    const pool = await this.ready();
    try {
      return new CheckedOut(await pool.connect());
    } catch (error) {
      if (attempt === 1 && isConnectionError(error)) {
        await settleSockets();
        return null;
      }
      throw toStoreError(operation, error);
    }
  }
}

/**
 * A pooled client while it is checked out. It listens for errors (a
 * terminated connection must not crash the process), and a client that broke
 * is discarded on release instead of going back to the pool.
 */
class CheckedOut {
  /** Why the connection broke, if it did. */
  broken: Error | undefined;
  private readonly onError = (error: Error): void => {
    this.broken = error;
  };

  constructor(readonly client: pg.PoolClient) {
    client.on("error", this.onError);
  }

  /** Notes a statement's error; true if it means the connection is lost. */
  failed(error: unknown): boolean {
    if (!isConnectionError(error)) return false;
    this.broken ??= error as Error;
    return true;
  }

  release(): void {
    this.client.removeListener("error", this.onError);
    this.client.release(this.broken);
  }
}

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
