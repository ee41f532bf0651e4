/** `optiq/sqlite`: the embedded, durable store (one file, WAL). */
export { SqliteStore, type SqliteStoreOptions } from "./stores/sqlite/index.js";
