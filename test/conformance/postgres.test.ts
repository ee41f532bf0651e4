import { PostgresStore } from "../../src/stores/postgres/index.js";
import { createTestSchema } from "../support/pg.js";
import { describeStoreConformance } from "./store-conformance.js";

describeStoreConformance("postgres", async () => {
  const { schema, connectionString, drop } = await createTestSchema();
  const store = new PostgresStore({ connectionString, schema, poolSize: 4 });
  return { store, cleanup: drop };
});
