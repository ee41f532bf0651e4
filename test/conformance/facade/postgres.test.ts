import { PostgresStore } from "../../../src/postgres.js";
import { describeFacadeConformance } from "./facade-conformance.js";
import { createTestSchema } from "../../support/pg.js";

// the facade suite (what a user sees through Optiq) on PostgreSQL: a fresh schema per test
describeFacadeConformance(
  "the PostgreSQL store",
  async () => {
    const { schema, connectionString, drop } = await createTestSchema();
    const open = () =>
      new PostgresStore({
        connectionString,
        schema,
        poolSize: 4,
        pollIntervalMs: 200,
        applicationName: "optiq-facade",
      });
    return { store: open(), reopen: open, cleanup: drop };
  },
  { shared: true, durable: true },
);
