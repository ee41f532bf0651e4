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
    // the web dashboard: plain browser modules, type-checked through tsconfig.dashboard.json
    files: ["dashboard/**/*.js"],
    languageOptions: {
      globals: {
        document: "readonly",
        location: "readonly",
        fetch: "readonly",
        EventSource: "readonly",
        MessageEvent: "readonly",
        requestAnimationFrame: "readonly",
        TextEncoder: "readonly",
        Node: "readonly",
        Element: "readonly",
        HTMLElement: "readonly",
        HTMLButtonElement: "readonly",
        HTMLDataListElement: "readonly",
        HTMLInputElement: "readonly",
        HTMLSelectElement: "readonly",
        HTMLTableSectionElement: "readonly",
        HTMLUListElement: "readonly",
      },
    },
    rules: {
      // job data reaches the page only as text: no markup parsing from strings
      "no-restricted-properties": [
        "error",
        { property: "innerHTML", message: "Set textContent or build elements (dashboard/dom.js)." },
        { property: "outerHTML", message: "Set textContent or build elements (dashboard/dom.js)." },
        { property: "insertAdjacentHTML", message: "Build elements (dashboard/dom.js)." },
        { object: "document", property: "write", message: "Build elements (dashboard/dom.js)." },
      ],
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
