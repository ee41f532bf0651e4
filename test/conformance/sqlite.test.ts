import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { SqliteStore } from "../../src/stores/sqlite/index.js";
import { describeStoreConformance } from "./store-conformance.js";

describeStoreConformance("sqlite", () => {
  const path = join(tmpdir(), `optiq-conformance-${randomUUID()}.db`);
  // a short poll so cross-connection deliveries (none expected here) stay quick
  const store = new SqliteStore({ path, pollIntervalMs: 20 });
  const cleanup = async (): Promise<void> => {
    await Promise.all([
      rm(path, { force: true }),
      rm(`${path}-wal`, { force: true }),
      rm(`${path}-shm`, { force: true }),
    ]);
  };
  return Promise.resolve({ store, cleanup });
});
