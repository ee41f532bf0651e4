/** The tsx loader helpers: whether runners need tsx, where it lives, and the exec args without it. */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

/**
 * The sandbox modules' extension (this file sits beside the runners and is
 * built the same way): .ts when run from source (tsx, vitest), .js once
 * compiled. The slots name their runner files with it.
 */
export const OWN_EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
const RUNNING_FROM_SOURCE = OWN_EXT === ".ts";

/** tsx's URLs, resolved once and only when needed (it is a dev dependency: absent from most installs). */
let tsxUrls: { api: string; loader: string } | null = null;
export function resolveTsx(): { api: string; loader: string } {
  if (tsxUrls) return tsxUrls;
  const require = createRequire(import.meta.url);
  const loader = require.resolve("tsx"); // "." has a single target: the --import loader
  // "./esm/api" resolves to CJS through require(); threads need its ESM build, named by the "import" condition
  const pkgPath = require.resolve("tsx/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { exports?: Record<string, unknown> };
  const entry = pkg.exports?.["./esm/api"] as { import?: { default?: string } | string } | undefined;
  const esm = typeof entry?.import === "string" ? entry.import : (entry?.import?.default ?? "./dist/esm/api/index.mjs");
  tsxUrls = {
    api: new URL(esm, pathToFileURL(pkgPath)).href,
    loader: pathToFileURL(loader).href,
  };
  return tsxUrls;
}

export function needsTsx(typescriptModule: boolean): boolean {
  return RUNNING_FROM_SOURCE || typescriptModule;
}

/** The parent's exec args minus tsx's own hooks (we add them back exactly once where needed). */
export function execArgvWithoutTsx(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const hookFlag = /^--(import|require|loader|experimental-loader)$/.test(arg) || arg === "-r";
    if (hookFlag && /tsx/.test(argv[i + 1] ?? "")) {
      i++;
      continue;
    }
    if (/^--(import|require|loader|experimental-loader)=.*tsx/.test(arg)) continue;
    out.push(arg);
  }
  return out;
}
