import { afterEach, beforeEach } from "vitest";
import { PostgresStore, type PostgresStoreOptions } from "../../../src/stores/postgres/index.js";
import { createTestSchema, type TestSchema } from "../../support/pg.js";

export const T0 = 1_700_000_000_000;
export const LEASE_MS = 30_000;

export interface Fixture {
  /** This test's schema (fresh per test, dropped after it). */
  readonly db: TestSchema;
  /** Opens (and init()s) another store on this test's schema; closed after the test. */
  open(options?: Partial<PostgresStoreOptions>): Promise<PostgresStore>;
}

/** Gives every test a fresh schema and closes every store it opened, then drops the schema. */
export function useSchema(): Fixture {
  let db: TestSchema | undefined;
  let stores: PostgresStore[] = [];
  beforeEach(async () => {
    db = await createTestSchema();
  });
  afterEach(async () => {
    const opened = stores;
    stores = [];
    await Promise.all(opened.map((s) => s.close()));
    await db?.drop();
    db = undefined;
  });
  return {
    get db(): TestSchema {
      if (!db) throw new Error("only inside a test");
      return db;
    },
    async open(options: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
      if (!db) throw new Error("only inside a test");
      const store = new PostgresStore({
        connectionString: db.connectionString,
        schema: db.schema,
        poolSize: 4,
        // not the default "optiq": other test files terminate those connections on purpose
        applicationName: "optiq-test-pg",
        ...options,
      });
      stores.push(store);
      await store.init();
      return store;
    },
  };
}

/** Resolves when `condition` holds, checked after each listener call; rejects after `timeoutMs`. */
export class Waiter {
  private checks: (() => boolean)[] = [];

  notify(): void {
    this.checks = this.checks.filter((check) => !check());
  }

  until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.checks = this.checks.filter((c) => c !== check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const check = (): boolean => {
        if (!condition()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      this.checks.push(check);
    });
  }
}

/** A StoreListener recording every delivery, with waits on what it has seen. */
export class Recorder {
  available = 0;
  readonly finished: string[] = [];
  readonly cancelRequested: string[] = [];
  private readonly waiter = new Waiter();

  readonly onAvailable = (): void => {
    this.available++;
    this.waiter.notify();
  };
  readonly onFinished = (ids: readonly string[]): void => {
    this.finished.push(...ids);
    this.waiter.notify();
  };
  readonly onCancelRequested = (ids: readonly string[]): void => {
    this.cancelRequested.push(...ids);
    this.waiter.notify();
  };
  resyncs = 0;
  readonly onResync = (): void => {
    this.resyncs++;
    this.waiter.notify();
  };

  untilResync(count: number): Promise<void> {
    return this.waiter.until(() => this.resyncs >= count, `${count} onResync call(s)`);
  }

  untilAvailable(count: number): Promise<void> {
    return this.waiter.until(() => this.available >= count, `${count} onAvailable call(s)`);
  }

  untilFinished(ids: readonly string[]): Promise<void> {
    return this.waiter.until(() => {
      const seen = new Set(this.finished);
      return ids.every((id) => seen.has(id));
    }, `onFinished of ${ids.length} job(s)`);
  }

  untilCancelRequested(ids: readonly string[]): Promise<void> {
    return this.waiter.until(
      () => ids.every((id) => this.cancelRequested.includes(id)),
      `onCancelRequested of ${ids.join(", ")}`,
    );
  }
}
