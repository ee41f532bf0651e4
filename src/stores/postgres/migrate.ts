import { readFile, readdir } from "node:fs/promises";
import type pg from "pg";
import { StoreError } from "../../core/errors.js";
import { quoteIdent } from "./identifiers.js";

export interface Migration {
  readonly version: number;
  readonly name: string;
  /** SQL text with `{{schema}}` placeholders. */
  readonly sql: string;
}

const MIGRATIONS_DIR = new URL("./migrations/", import.meta.url);
const FILE_PATTERN = /^(\d+)_([\w-]+)\.sql$/;

let cached: Promise<Migration[]> | undefined;

/** The numbered .sql files shipped next to this module, in version order (read once per process). */
export function loadMigrations(): Promise<Migration[]> {
  cached ??= (async () => {
    const files = (await readdir(MIGRATIONS_DIR)).filter((f) => FILE_PATTERN.test(f));
    const migrations = await Promise.all(
      files.map(async (file): Promise<Migration> => {
        const match = FILE_PATTERN.exec(file)!;
        return {
          version: Number(match[1]),
          name: match[2]!,
          sql: await readFile(new URL(file, MIGRATIONS_DIR), "utf8"),
        };
      }),
    );
    migrations.sort((a, b) => a.version - b.version);
    for (let i = 1; i < migrations.length; i++) {
      if (migrations[i]!.version === migrations[i - 1]!.version) {
        throw new Error(`two migrations share version ${migrations[i]!.version}`);
      }
    }
    return migrations;
  })().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
}

/**
 * Brings `schema` up to the latest version. Everything runs in one transaction
 * under a transaction-level advisory lock keyed on the schema name, so any
 * number of processes may migrate at once: the first applies, the others wait
 * and then find nothing left to do. Applied versions are recorded in
 * `<schema>.migrations`. Returns the versions this call applied.
 */
export async function migrate(pool: pg.Pool, schema: string, migrations?: readonly Migration[]): Promise<number[]> {
  const all = migrations ?? (await loadMigrations());
  const q = quoteIdent(schema);
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error): void => {
    broken = error;
  };
  client.on("error", onError);
  const applied: number[] = [];
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`optiq.migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${q}.migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`,
    );
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${q}.migrations`);
    const done = new Set(rows.map((r) => Number(r.version)));
    for (const m of all) {
      if (done.has(m.version)) continue;
      await client.query(m.sql.replaceAll("{{schema}}", q));
      await client.query(`INSERT INTO ${q}.migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query("COMMIT");
    return applied;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    broken ??= error instanceof Error ? error : new Error(String(error));
    throw new StoreError(`migrating schema ${schema} failed: ${(error as Error).message}`, { cause: error });
  } finally {
    client.removeListener("error", onError);
    client.release(broken);
  }
}
