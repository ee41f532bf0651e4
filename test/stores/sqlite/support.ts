import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach } from "vitest";
import type { EnqueueJob, Store } from "../../../src/store/port.js";
import { SqliteStore } from "../../../src/stores/sqlite/index.js";
import { makeJobs } from "../../support/job-factory.js";
import type { SqliteStoreOptions } from "../../../src/stores/sqlite/index.js";

export const T0 = 1_700_000_000_000;
export const LEASE_MS = 30_000;
/** Generous: cross-connection deliveries arrive within one poll interval. */
export const DELIVERY_TIMEOUT_MS = 10_000;

/** The shared job factories, under the names these tests use. */
export { makeJob as job } from "../../support/job-factory.js";

export function jobs(count: number, now: number, overrides: Partial<EnqueueJob> = {}): EnqueueJob[] {
  return makeJobs(count, now, overrides);
}

export function claimAll(
  store: Store,
  workerId: string,
  now: number,
  limit = 100,
  names: Record<string, number> = { t: 1_000_000 },
) {
  return store.claim({ workerId, limit, names: new Map(Object.entries(names)), leaseMs: LEASE_MS, now });
}

export async function removeDb(path: string): Promise<void> {
  await Promise.all(["", "-wal", "-shm", "-journal"].map((s) => rm(`${path}${s}`, { force: true })));
}

/**
 * Temp files and stores for one test file: every path is new, every store is
 * closed and every file deleted after each test.
 */
export function useTempDb(): {
  path(): string;
  open(options?: SqliteStoreOptions & { init?: boolean }): Promise<SqliteStore>;
} {
  const paths: string[] = [];
  const stores: SqliteStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await Promise.all(paths.splice(0).map(removeDb));
  });
  const newPath = (): string => {
    const path = join(tmpdir(), `optiq-sqlite-${randomUUID()}.db`);
    paths.push(path);
    return path;
  };
  return {
    path: newPath,
    /** A store on options.path, or on a new temp file; init() unless init: false. */
    async open(options = {}): Promise<SqliteStore> {
      const path = options.path ?? newPath();
      const store = new SqliteStore({ ...options, path });
      stores.push(store);
      if (options.init !== false) await store.init();
      return store;
    },
  };
}

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const CHILD = fileURLToPath(new URL("./fixtures/child.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface Child {
  /** Resolves when the child printed a line "ready" on stderr. */
  ready: Promise<void>;
  done: Promise<ChildResult>;
}

/** Starts fixtures/child.ts in a separate Node process (through tsx). */
export function startChild(args: string[], timeoutMs = 60_000): Child {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
    if (/^ready$/m.test(stderr)) markReady();
  });
  const done = new Promise<ChildResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child ${args.join(" ")} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  // a child that dies early must not leave a test waiting for "ready"
  void done.then(markReady, markReady);
  return { ready, done };
}

/** Runs fixtures/child.ts to completion. */
export function runChild(args: string[], timeoutMs = 60_000): Promise<ChildResult> {
  return startChild(args, timeoutMs).done;
}

/** Records listener deliveries and lets a test await them: the conformance suite's recorder. */
export { Recorder as Deliveries } from "../../conformance/harness.js";
