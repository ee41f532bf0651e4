/** `optiq/postgres`: the store for a fleet of workers sharing one PostgreSQL. */
export { PostgresStore, type PostgresStoreOptions, type Queryable } from "./stores/postgres/index.js";
