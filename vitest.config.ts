import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // PostgreSQL and SQLite files give each test file its own schema/file, so files may run in parallel
    fileParallelism: true,
    pool: "forks",
  },
});
