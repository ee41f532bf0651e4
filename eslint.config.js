// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "coverage/", ".tmp/", "dashboard/vendor/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setImmediate: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        Buffer: "readonly",
        URL: "readonly",
        AbortController: "readonly",
        AbortSignal: "readonly",
        queueMicrotask: "readonly",
        structuredClone: "readonly",
        performance: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // handlers and test doubles legitimately take `any`-free unknowns; explicit any stays an error
      "@typescript-eslint/no-explicit-any": "error",
      eqeqeq: ["error", "smart"],
    },
  },
  {
    // only the store folders talk to database drivers
    files: ["src/**/*.ts"],
    ignores: ["src/stores/**"],
    rules: {
      "no-restricted-imports": ["error", { paths: ["pg", "better-sqlite3"] }],
    },
  },
  {
    // the core must stay free of storage, transport and Node I/O (see docs/architecture.md)
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            "../store*",
            "../stores/*",
            "../worker/*",
            "../server/*",
            "pg",
            "better-sqlite3",
            "node:fs",
            "node:net",
          ],
        },
      ],
    },
  },
);
