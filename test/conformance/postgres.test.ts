import { PostgresStore } from "../../src/stores/postgres/index.js";
import { createTestSchema } from "../support/pg.js";
import { describeStoreConformance } from "./store-conformance.js";

describeStoreConformance("postgres", async () => {
  const { schema, connectionString, drop } = await createTestSchema();
  // a name of its own: other test files terminate the default "optiq" connections on purpose
  const store = new PostgresStore({ connectionString, schema, poolSize: 4, applicationName: "optiq-conformance" });
  return { store, cleanup: drop };
});
