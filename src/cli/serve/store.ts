import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Store } from "../../store/port.js";

export interface StoreFlags {
  db?: string;
  postgres?: string;
  /** With `postgres`: the schema of optiq's tables; workers sharing one schema share the queue. */
  schema?: string;
  memory?: boolean;
}

export const DEFAULT_DB = "./optiq.db";

/** The store the flags name, and a description for the startup banner. Drivers load only when chosen. */
export async function openStore(flags: StoreFlags): Promise<{ store: Store; where: string }> {
  if (flags.memory) {
    const { MemoryStore } = await import("../../stores/memory/memory-store.js");
    return { store: new MemoryStore(), where: "in memory (jobs are lost when the process exits)" };
  }
  if (flags.postgres !== undefined) {
    const { PostgresStore } = await import("../../postgres.js");
    return {
      store: new PostgresStore({
        connectionString: flags.postgres,
        ...(flags.schema === undefined ? {} : { schema: flags.schema }),
      }),
      where: `PostgreSQL ${redact(flags.postgres)}, schema ${flags.schema ?? "optiq"}`,
    };
  }
  const path = resolve(flags.db ?? DEFAULT_DB);
  mkdirSync(dirname(path), { recursive: true });
  const { SqliteStore } = await import("../../sqlite.js");
  return { store: new SqliteStore({ path }), where: `SQLite ${path}` };
}

/** A connection string's password has no place in a banner or a log. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.href;
  } catch {
    return "(connection string)";
  }
}
