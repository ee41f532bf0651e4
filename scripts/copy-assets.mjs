// Copies the files tsc does not emit (SQL migrations) next to the compiled modules in dist/.
import { cpSync } from "node:fs";

cpSync("src/stores/postgres/migrations", "dist/stores/postgres/migrations", { recursive: true });
