export { PostgresStore, type PostgresStoreOptions, type Queryable } from "./postgres-store.js";
export { migrate, loadMigrations, type Migration } from "./migrate.js";
