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
  async single<T>(operation: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
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

  /**
   * Runs `fn` inside a transaction on one pooled connection. The client gets
   * an error listener while checked out (a terminated connection must not
   * crash the process) and is discarded, not reused, if it broke. A lost
   * connection before COMMIT was sent rolled everything back, so that is
   * retried once whatever `retry` says; a loss during COMMIT is ambiguous and
   * is retried only when `retry`.
   */
  async transaction<T>(operation: string, retry: boolean, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
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
