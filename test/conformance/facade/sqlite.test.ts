import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../../src/sqlite.js";
import { describeFacadeConformance } from "./facade-conformance.js";

describeFacadeConformance(
  "the SQLite store",
  async () => {
    const path = join(tmpdir(), `optiq-facade-${process.pid}-${Math.random().toString(36).slice(2)}.db`);
    return {
      store: new SqliteStore({ path, pollIntervalMs: 20 }),
      reopen: () => new SqliteStore({ path, pollIntervalMs: 20 }),
      cleanup: async () => {
        for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
      },
    };
  },
  { shared: true, durable: true },
);
