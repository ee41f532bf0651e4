import { randomBytes } from "node:crypto";
import pg from "pg";

/** The database PostgreSQL tests use; override with OPTIQ_TEST_DATABASE_URL. */
export const TEST_DATABASE_URL = process.env.OPTIQ_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestSchema {
  /** A schema name unique to this call (not created: PostgresStore.init() creates it). */
  schema: string;
  connectionString: string;
  /** Drops the schema and everything in it. */
  drop: () => Promise<void>;
}

/** A fresh, unique schema name per call, dropped CASCADE by `drop`. */
export function createTestSchema(): Promise<TestSchema> {
  const schema = `optiq_test_${process.pid}_${randomBytes(5).toString("hex")}`;
  const connectionString = TEST_DATABASE_URL;
  return Promise.resolve({
    schema,
    connectionString,
    drop: () => withClient((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).then(() => undefined)),
  });
}

/** Runs `fn` on a short-lived connection to the test database. */
export async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, application_name: "optiq-test-admin" });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Terminates every backend whose application_name is exactly `applicationName`
 * (pg_terminate_backend, as an operator or a failover would); returns how many.
 */
export function terminateBackends(applicationName: string): Promise<number> {
  return withClient(async (c) => {
    const { rows } = await c.query<{ n: string }>(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n
       FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`,
      [applicationName],
    );
    return Number(rows[0]?.n ?? 0);
  });
}
