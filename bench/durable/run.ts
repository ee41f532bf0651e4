/**
 * The durable benchmark, side by side in one invocation:
 *
 *   npx tsx bench/durable/run.ts [--reps 3] [--cases a,b] [--systems x,y] [--no-docs]
 *
 * optiq on SQLite (synchronous=FULL) and on PostgreSQL, graphile-worker 0.17
 * (local queue + batched completion), pg-boss 10 (batch fetch), BullMQ 5 on
 * the local Redis, and the raw-`pg` floor. Every measurement runs in a fresh
 * child process (bench/durable/child.ts) on a fresh namespace (schema, SQLite
 * file, Redis queue) that is dropped afterwards; each is repeated `reps`
 * times (systems interleaved) and the median is reported.
 *
 * Prints one JSON line per (case, system) on stdout, progress on stderr, and
 * rewrites the durable section of docs/benchmarks.md (between
 * `<!-- durable:start -->` and `<!-- durable:end -->`) unless --no-docs.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { release as osRelease } from "node:os";
import { fileURLToPath } from "node:url";
import { Queue } from "bullmq";
import pg from "pg";
import { currentLoad, machineFacts } from "../lib/machine.js";
import { median } from "../lib/stats.js";
import {
  deleteKeys,
  GRAPHILE_LOCAL_QUEUE,
  GRAPHILE_POLL_MS,
  PGBOSS_POLL_S,
  redisOf,
  type RedisCall,
} from "./adapters.js";
import {
  CASES,
  FLOOR_BATCH,
  NAME_PREFIX,
  PG_URL,
  PGBOSS_NOOP_JOBS,
  REDIS_HOST,
  REDIS_PORT,
  caseFor,
  systemsFor,
  type CaseSpec,
  type Measurement,
  type SystemName,
} from "./cases.js";

const CHILD = fileURLToPath(new URL("./child.ts", import.meta.url));
const DOCS = fileURLToPath(new URL("../../docs/benchmarks.md", import.meta.url));
const START = "<!-- durable:start -->";
const END = "<!-- durable:end -->";
const CHILD_TIMEOUT_MS = 180_000;

// ------------------------------------------------------------------- options

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const REPS = Number(arg("reps") ?? 3);
const onlyCases = arg("cases")?.split(",");
const onlySystems = arg("systems")?.split(",");
const writeDocs = !process.argv.includes("--no-docs");
const cases = CASES.filter((c) => !onlyCases || onlyCases.includes(c.name));
const tag = randomBytes(3).toString("hex");
const log = (line: string): void => void process.stderr.write(`${line}\n`);

// ------------------------------------------------------------- quiet gate

/** Busy share of all CPUs over `ms` (from /proc/stat; null where there is none). */
async function cpuBusy(ms: number): Promise<number | null> {
  const read = async (): Promise<number[] | null> => {
    try {
      const line = (await readFile("/proc/stat", "utf8")).split("\n")[0]!;
      return line.trim().split(/\s+/).slice(1).map(Number);
    } catch {
      return null;
    }
  };
  const a = await read();
  await new Promise((r) => setTimeout(r, ms));
  const b = await read();
  if (!a || !b) return null;
  const d = b.map((v, i) => v - a[i]!);
  const total = d.reduce((x, y) => x + y, 0);
  const idle = (d[3] ?? 0) + (d[4] ?? 0); // idle + iowait
  return total > 0 ? 1 - idle / total : null;
}

/**
 * Other work on the machine (tests, other benchmarks) skews every number:
 * before each measurement wait, up to QUIET_MAX_WAIT_MS, until the CPUs are
 * at most QUIET_BUSY busy over half a second. Returns the last busy share seen.
 */
const QUIET_BUSY = 0.3;
const QUIET_MAX_WAIT_MS = 5_000;
async function waitQuiet(): Promise<number | null> {
  const deadline = Date.now() + QUIET_MAX_WAIT_MS;
  for (;;) {
    const busy = await cpuBusy(500);
    if (busy === null || busy <= QUIET_BUSY || Date.now() >= deadline) return busy;
  }
}

// ---------------------------------------------------------------- child runs

/** Runs one measurement in a fresh `node --import tsx` process; resolves with its JSON line. */
function runChild(caseName: string, system: SystemName, ns: string): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, caseName, system, ns], {
      stdio: ["ignore", "pipe", "pipe"],
      env: process.env,
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split("\n").filter(Boolean).pop();
      if (code === 0 && line) {
        try {
          resolve(JSON.parse(line) as Measurement);
          return;
        } catch {
          // fall through
        }
      }
      reject(new Error(`${caseName}/${system} exited ${code ?? signal}: ${err.trim().slice(-1500)}`));
    });
  });
}

// ------------------------------------------------------------- aggregation

export interface Row {
  case: string;
  system: SystemName;
  jobs: number;
  jobs_per_s?: number;
  p50_ms?: number;
  p99_ms?: number;
  ms?: number;
  rss_mb: number;
  ratio_vs_optiq?: number;
  /** timer case: ms / limit. */
  ratio_vs_limit?: number;
  /** PostgreSQL systems, pickup: p50 and p99 over the raw-pg floor's. */
  p50_vs_floor?: number;
  p99_vs_floor?: number;
  /** PostgreSQL systems, noop: jobs/s over the floor's batched claim+complete ceiling. */
  vs_ceiling?: number;
  runs: number;
  /** min and max over the runs of the headline metric (noop: jobs/s, timer: ms, pickup: p50 ms). */
  range?: [number, number];
  error?: string;
}

const r2 = (x: number | undefined, digits = 2): number | undefined =>
  x === undefined ? undefined : Math.round(x * 10 ** digits) / 10 ** digits;

function aggregate(c: CaseSpec, system: SystemName, ms: Measurement[], errors: string[]): Row {
  const pick = (k: "jobs_per_s" | "p50_ms" | "p99_ms" | "ms" | "rss_mb"): number | undefined => {
    const xs = ms.map((m) => m[k]).filter((v): v is number => typeof v === "number");
    return xs.length === 0 ? undefined : median(xs);
  };
  const row: Row = {
    case: c.name,
    system,
    jobs: caseFor(c, system).jobs,
    jobs_per_s: c.kind === "throughput" ? r2(pick("jobs_per_s"), 0) : undefined,
    p50_ms: r2(pick("p50_ms")),
    p99_ms: r2(pick("p99_ms")),
    ms: r2(pick("ms"), 1),
    rss_mb: r2(pick("rss_mb"), 1) ?? 0,
    runs: ms.length,
  };
  const head = ms
    .map((m) => (c.kind === "pickup" ? m.p50_ms : c.sleepMs > 0 ? m.ms : m.jobs_per_s))
    .filter((v): v is number => typeof v === "number");
  if (head.length > 1) row.range = [Math.min(...head), Math.max(...head)];
  if (ms.length === 0) row.error = errors[0] ?? "no run succeeded";
  return row;
}

const PG_SYSTEMS: readonly SystemName[] = ["optiq-postgres", "graphile-worker", "pg-boss"];

function addRatios(rows: Row[]): void {
  for (const c of cases) {
    const inCase = rows.filter((r) => r.case === c.name);
    const optiq = inCase.find((r) => r.system === "optiq-postgres");
    const floor = inCase.find((r) => r.system === "pg-floor");
    for (const r of inCase) {
      if (r.error) continue;
      if (optiq && !optiq.error && r.system !== "optiq-postgres" && r.system !== "pg-floor") {
        if (c.name === "noop-20k") r.ratio_vs_optiq = r2(r.jobs_per_s! / optiq.jobs_per_s!, 3);
        else if (c.kind === "throughput") r.ratio_vs_optiq = r2(r.ms! / optiq.ms!, 3);
        else r.ratio_vs_optiq = r2(r.p50_ms! / optiq.p50_ms!, 3);
      }
      if (c.limitMs !== null && r.ms !== undefined) r.ratio_vs_limit = r2(r.ms / c.limitMs, 3);
      if (floor && !floor.error && PG_SYSTEMS.includes(r.system)) {
        if (c.kind === "pickup") {
          r.p50_vs_floor = r2(r.p50_ms! / floor.p50_ms!, 3);
          r.p99_vs_floor = r2(r.p99_ms! / floor.p99_ms!, 3);
        } else if (c.name === "noop-20k") {
          r.vs_ceiling = r2(r.jobs_per_s! / floor.jobs_per_s!, 3);
        }
      }
    }
  }
}

/** The JSON line of a row: the fields that apply, in a fixed order. */
function jsonLine(r: Row): string {
  const keys: (keyof Row)[] = [
    "case",
    "system",
    "jobs",
    "jobs_per_s",
    "p50_ms",
    "p99_ms",
    "ms",
    "rss_mb",
    "ratio_vs_optiq",
    "ratio_vs_limit",
    "p50_vs_floor",
    "p99_vs_floor",
    "vs_ceiling",
    "runs",
    "range",
    "error",
  ];
  const o: Record<string, unknown> = {};
  for (const k of keys) if (r[k] !== undefined) o[k] = r[k];
  return JSON.stringify(o);
}

// ------------------------------------------------------------------- machine

interface Machine {
  nproc: number;
  cpu: string;
  os: string;
  node: string;
  postgres: string;
  pgDurability: string;
  redis: string;
  redisPersistence: string;
  date: string;
  /** Load averages before the run (other work on the machine skews the numbers). */
  load: string;
}

/** Runs `fn` on BullMQ's Redis client (a throwaway queue whose own keys are deleted afterwards). */
async function withRedis<T>(fn: (r: RedisCall) => Promise<T>): Promise<T> {
  const name = `${NAME_PREFIX.replaceAll("_", "-")}${tag}-info`;
  const q = new Queue(name, { connection: { host: REDIS_HOST, port: REDIS_PORT } });
  try {
    await q.waitUntilReady();
    const r = await redisOf(q);
    try {
      return await fn(r);
    } finally {
      await deleteKeys(r, `bull:${name}:*`);
    }
  } finally {
    await q.close();
  }
}

async function machine(): Promise<Machine> {
  const c = new pg.Client({ connectionString: PG_URL, application_name: "optiq-bench-admin" });
  await c.connect();
  const setting = async (name: string): Promise<string> =>
    (await c.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name])).rows[0]!.v;
  const postgres = await setting("server_version");
  const pgDurability = `synchronous_commit=${await setting("synchronous_commit")}, fsync=${await setting("fsync")}, wal_sync_method=${await setting("wal_sync_method")}`;
  await c.end();
  const { redis, aof, fsync, save } = await withRedis(async (r) => {
    const info = String(await r.call("INFO", "server"));
    const config = async (name: string): Promise<string> =>
      ((await r.call("CONFIG", "GET", name)) as string[])[1] ?? "?";
    return {
      redis: /redis_version:(\S+)/.exec(info)?.[1] ?? "?",
      aof: await config("appendonly"),
      fsync: await config("appendfsync"),
      save: await config("save"),
    };
  });
  const facts = machineFacts();
  return {
    nproc: facts.nproc,
    cpu: `${facts.cpu}, ${facts.memoryGb} GB`,
    os: `${facts.platform}, kernel ${osRelease()}`,
    node: facts.node,
    postgres,
    pgDurability,
    redis,
    redisPersistence: `appendonly=${aof}${aof === "yes" ? ` (appendfsync=${fsync})` : ""}, save="${save}"`,
    date: new Date().toISOString().slice(0, 10),
    load: currentLoad(),
  };
}

/** Drops whatever a crashed child may have left behind (schemas, SQLite files are per child). */
async function cleanup(): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL, application_name: "optiq-bench-admin" });
  await c.connect();
  const { rows } = await c.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`, [
    `${NAME_PREFIX}${tag}_%`,
  ]);
  for (const r of rows) await c.query(`DROP SCHEMA IF EXISTS "${r.nspname}" CASCADE`);
  await c.end();
  const removed = await withRedis((r) => deleteKeys(r, `bull:${NAME_PREFIX.replaceAll("_", "-")}${tag}-*`));
  if (rows.length > 0 || removed > 0) log(`cleanup: dropped ${rows.length} schemas, ${removed} Redis keys`);
}

// ---------------------------------------------------------------------- docs

const TARGETS = {
  noopVsGraphile: 2,
  pickupP50Ms: 2,
  pickupP99VsFloor: 1.2,
  sqliteNoop: 30_000,
  timerSlack: 0.2,
};

interface Verdict {
  target: string;
  measured: string;
  met: boolean | null;
}

function verdicts(rows: Row[]): Verdict[] {
  const get = (c: string, s: SystemName): Row | undefined =>
    rows.find((r) => r.case === c && r.system === s && !r.error);
  const fmt = (x: number | undefined, d = 2): string =>
    x === undefined ? "n/a" : x.toLocaleString("en-US", { maximumFractionDigits: d });
  const out: Verdict[] = [];
  const op = get("noop-20k", "optiq-postgres");
  const gw = get("noop-20k", "graphile-worker");
  const x = op && gw ? op.jobs_per_s! / gw.jobs_per_s! : undefined;
  out.push({
    target: `optiq PostgreSQL noop ≥ ${TARGETS.noopVsGraphile}× tuned graphile-worker`,
    measured: `${fmt(op?.jobs_per_s, 0)} vs ${fmt(gw?.jobs_per_s, 0)} jobs/s = ${fmt(x)}×`,
    met: x === undefined ? null : x >= TARGETS.noopVsGraphile,
  });
  const pp = get("pickup", "optiq-postgres");
  const pf = get("pickup", "pg-floor");
  out.push({
    target: `optiq PostgreSQL pickup p50 ≤ ${TARGETS.pickupP50Ms} ms`,
    measured: `${fmt(pp?.p50_ms)} ms (floor ${fmt(pf?.p50_ms)} ms, ${fmt(pp?.p50_vs_floor)}× floor)`,
    met: pp ? pp.p50_ms! <= TARGETS.pickupP50Ms : null,
  });
  out.push({
    target: `optiq PostgreSQL pickup p99 ≤ ${TARGETS.pickupP99VsFloor}× floor p99`,
    measured: `${fmt(pp?.p99_ms)} ms vs floor ${fmt(pf?.p99_ms)} ms = ${fmt(pp?.p99_vs_floor)}×`,
    met: pp?.p99_vs_floor === undefined ? null : pp.p99_vs_floor <= TARGETS.pickupP99VsFloor,
  });
  const ps = get("pickup", "optiq-sqlite");
  out.push({
    target: `optiq SQLite pickup p50 ≤ ${TARGETS.pickupP50Ms} ms`,
    measured: `${fmt(ps?.p50_ms)} ms (p99 ${fmt(ps?.p99_ms)} ms)`,
    met: ps ? ps.p50_ms! <= TARGETS.pickupP50Ms : null,
  });
  const sq = get("noop-20k", "optiq-sqlite");
  out.push({
    target: `optiq SQLite noop ≥ ${fmt(TARGETS.sqliteNoop, 0)} jobs/s (synchronous=FULL)`,
    measured: `${fmt(sq?.jobs_per_s, 0)} jobs/s`,
    met: sq ? sq.jobs_per_s! >= TARGETS.sqliteNoop : null,
  });
  for (const s of ["optiq-sqlite", "optiq-postgres"] as const) {
    const t = get("timer-10ms", s);
    out.push({
      target: `${s === "optiq-sqlite" ? "optiq SQLite" : "optiq PostgreSQL"}: 1000 × 10 ms within ${TARGETS.timerSlack * 100}% of the 100 ms limit`,
      measured: `${fmt(t?.ms, 1)} ms = ${fmt(t?.ratio_vs_limit)}× limit`,
      met: t?.ratio_vs_limit === undefined ? null : t.ratio_vs_limit <= 1 + TARGETS.timerSlack,
    });
  }
  return out;
}

const SYSTEM_LABEL: Record<SystemName, string> = {
  "optiq-sqlite": "optiq SQLite",
  "optiq-postgres": "optiq PostgreSQL",
  "graphile-worker": "graphile-worker 0.17",
  "pg-boss": "pg-boss 10",
  bullmq: "BullMQ 5",
  "pg-floor": "raw pg floor",
};

function section(rows: Row[], m: Machine, busyBefore: number[]): string {
  const n = (x: number | undefined, d = 0): string =>
    x === undefined ? "" : x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
  const lines: string[] = [];
  lines.push(START, "", "## Durable stores and peers", "");
  lines.push(
    "Generated by `npx tsx bench/durable/run.ts` (a few minutes); do not edit by hand between the markers.",
    "",
  );
  lines.push(
    `Machine: ${m.nproc} CPUs (${m.cpu}), ${m.os}, Node ${m.node}, PostgreSQL ${m.postgres} (${m.pgDurability}), Redis ${m.redis} (${m.redisPersistence}), ${m.date}; load average (1 / 5 / 15 min) ${m.load} before the run, ${currentLoad()} after (the database servers share these CPUs and disk).`,
    "",
  );
  const busySorted = [...busyBefore].sort((a, b) => a - b);
  const busyNote =
    busySorted.length === 0
      ? ""
      : ` Before each run the bench waits (up to ${QUIET_MAX_WAIT_MS / 1000} s) for the CPUs to be at most ${QUIET_BUSY * 100}% busy with other work; measured just before the runs: median ${Math.round(median(busySorted) * 100)}%, max ${Math.round(busySorted[busySorted.length - 1]! * 100)}%. The spread column shows how much the runs still differ.`;
  lines.push(
    `Each cell is the median of ${REPS} runs, every run a fresh process on a fresh schema / SQLite file / Redis queue.${busyNote}`,
    "",
  );
  lines.push(
    "| Case | System | Jobs | jobs/s | ms | p50 ms | p99 ms | Peak RSS MB | vs optiq PostgreSQL | vs floor / limit | Runs (min–max) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const r of rows) {
    const vs =
      r.ratio_vs_optiq === undefined ? (r.system === "optiq-postgres" ? "1" : "") : `${n(r.ratio_vs_optiq, 2)}×`;
    const rel: string[] = [];
    if (r.ratio_vs_limit !== undefined) rel.push(`${n(r.ratio_vs_limit, 2)}× limit`);
    if (r.vs_ceiling !== undefined) rel.push(`${n(r.vs_ceiling, 2)}× ceiling`);
    if (r.p50_vs_floor !== undefined) rel.push(`p50 ${n(r.p50_vs_floor, 2)}×, p99 ${n(r.p99_vs_floor, 2)}× floor`);
    const d = r.case === "pickup" ? 2 : r.case === "timer-10ms" ? 1 : 0;
    const spread = r.range ? `${r.runs} (${n(r.range[0], d)}–${n(r.range[1], d)})` : String(r.runs);
    const label =
      r.case === "noop-20k" && r.system === "pg-floor"
        ? `raw pg ceiling (batches of ${FLOOR_BATCH})`
        : SYSTEM_LABEL[r.system];
    if (r.error) {
      lines.push(
        `| ${r.case} | ${label} | ${n(r.jobs)} | failed: ${r.error.split("\n")[0]!.replaceAll("|", "/").slice(0, 80)} | | | | | | | |`,
      );
      continue;
    }
    lines.push(
      `| ${r.case} | ${label} | ${n(r.jobs)} | ${n(r.jobs_per_s)} | ${n(r.ms, 1)} | ${n(r.p50_ms, 2)} | ${n(r.p99_ms, 2)} | ${n(r.rss_mb, 0)} | ${vs} | ${rel.join("; ")} | ${spread} |`,
    );
  }
  lines.push("", "### Targets", "", "| Target | Measured | Met |", "| --- | --- | --- |");
  for (const v of verdicts(rows))
    lines.push(`| ${v.target} | ${v.measured} | ${v.met === null ? "n/a" : v.met ? "yes" : "**no**"} |`);
  lines.push("", "### How it is measured", "");
  lines.push(
    `- **noop-20k**: 20,000 no-op jobs at concurrency 50, enqueued first with each system's bulk API (1,000 per call: \`submitMany\`, \`addJobs\`, \`insert\`, \`addBulk\`), then timed from the call that starts the worker until every job is durably completed: optiq's \`completed\` event (after the settle commits), BullMQ's worker \`completed\` event, and for graphile-worker and pg-boss, whose completion writes trail the handler, the database polled every 2 ms once every handler ran. pg-boss runs ${PGBOSS_NOOP_JOBS.toLocaleString("en-US")} jobs (see below).`,
    "- **timer-10ms**: 1,000 jobs each awaiting a 10 ms timer at concurrency 100, same protocol; the limit is ceil(1000 / 100) × 10 ms = 100 ms.",
    "- **pickup**: an idle, started worker; 1,020 jobs submitted one call each at 200/s without waiting for the previous call, the first 20 discarded; latency = handler start − submit call (`performance.now()`, same process).",
    `- **raw pg floor** (pickup): one prepared statement \`INSERT … RETURNING\` + \`pg_notify\` from a producer pool (10 connections, as optiq's), \`LISTEN\` on a dedicated connection, \`UPDATE … FOR UPDATE SKIP LOCKED … RETURNING\` on a third, one claim in flight at a time; latency = claim returned − submit call. **Ceiling** (noop-20k row): the same bare table drained by claim ${FLOOR_BATCH} + complete ${FLOOR_BATCH} statements on one connection, no handler.`,
    "- Durable as each system ships: optiq SQLite `synchronous=FULL` + WAL; every PostgreSQL system with the server's `synchronous_commit` (not turned off); BullMQ with the Redis server's persistence as configured (see machine line).",
    `- graphile-worker is tuned as its performance page advises: \`localQueue: { size: ${GRAPHILE_LOCAL_QUEUE} }\`, \`completeJobBatchDelay: 0\`, \`failJobBatchDelay: 0\`, prepared statements, \`pollInterval: ${GRAPHILE_POLL_MS}\`, \`noHandleSignals\`, \`concurrency\` = the case's, \`maxPoolSize\` = concurrency + 1 capped at 40 (the server allows 100 connections).`,
    `- pg-boss 10 has no \`teamSize\`; one \`work()\` with \`batchSize\` = the case's concurrency (the batch runs concurrently) and the smallest polling interval it accepts, ${PGBOSS_POLL_S} s. Its work loop waits that interval after every fetch, so it runs at most one batch per ${PGBOSS_POLL_S} s (100 jobs/s at concurrency 50) so in the pickup case (200/s against its 100/s) it falls further behind as the run goes on; its noop case runs ${PGBOSS_NOOP_JOBS.toLocaleString("en-US")} jobs instead of 20,000.`,
    "- BullMQ: `Worker` with `concurrency` = the case's, default options, a unique queue obliterated (and its keys deleted) afterwards." +
      (m.redisPersistence.startsWith("appendonly=yes")
        ? ""
        : " This Redis runs without AOF, so BullMQ's completions here are acknowledged before they are on disk: its rows are not durable numbers."),
    "- Peak RSS is the child process's (the database servers are not counted).",
  );
  lines.push("", END);
  return lines.join("\n");
}

async function writeSection(text: string): Promise<void> {
  const prettier = await import("prettier");
  const options = (await prettier.resolveConfig(DOCS)) ?? {};
  const formatted = (await prettier.format(text, { ...options, parser: "markdown" })).trimEnd();
  const current = existsSync(DOCS) ? await readFile(DOCS, "utf8") : "";
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  let next: string;
  if (start >= 0 && end > start) next = current.slice(0, start) + formatted + current.slice(end + END.length);
  else if (current.trim() === "") next = `# Benchmarks\n\n${formatted}\n`;
  else next = `${current.trimEnd()}\n\n${formatted}\n`;
  await writeFile(DOCS, next);
}

// ---------------------------------------------------------------------- main

async function main(): Promise<void> {
  const t0 = Date.now();
  const info = await machine();
  log(`durable bench ${tag}: ${REPS} reps, cases ${cases.map((c) => c.name).join(", ")}`);
  const results = new Map<string, Measurement[]>();
  const errors = new Map<string, string[]>();
  let slot = 0;
  const busyBefore: number[] = [];
  const pct = (x: number | null): string => (x === null ? "?" : `${Math.round(x * 100)}%`);
  try {
    for (let rep = 1; rep <= REPS; rep++) {
      for (const [ci, c] of cases.entries()) {
        const systems = systemsFor(c).filter((s) => !onlySystems || onlySystems.includes(s));
        // rotate the order each rep so no system always runs first or last
        const order = systems.map((_, i) => systems[(i + rep - 1) % systems.length]!);
        for (const system of order) {
          const key = `${c.name}/${system}`;
          const ns = `${NAME_PREFIX}${tag}_${rep}_${ci}_${slot++}`;
          try {
            const busy = await waitQuiet();
            if (busy !== null) busyBefore.push(busy);
            const m = await runChild(c.name, system, ns);
            (results.get(key) ?? results.set(key, []).get(key)!).push(m);
            const headline =
              m.jobs_per_s !== undefined
                ? `${m.jobs_per_s} jobs/s, ${m.ms} ms`
                : `p50 ${m.p50_ms} ms, p99 ${m.p99_ms} ms`;
            log(`  rep ${rep} ${key}: ${headline}, rss ${m.rss_mb} MB (CPUs ${pct(busy)} busy before)`);
          } catch (err) {
            const msg = err instanceof Error ? err.message : String(err);
            (errors.get(key) ?? errors.set(key, []).get(key)!).push(msg);
            log(`  rep ${rep} ${key}: FAILED ${msg.split("\n")[0]}`);
          }
        }
      }
    }
  } finally {
    await cleanup();
  }
  const rows: Row[] = [];
  for (const c of cases) {
    for (const system of systemsFor(c).filter((s) => !onlySystems || onlySystems.includes(s))) {
      const key = `${c.name}/${system}`;
      rows.push(aggregate(c, system, results.get(key) ?? [], errors.get(key) ?? []));
    }
  }
  addRatios(rows);
  for (const r of rows) process.stdout.write(jsonLine(r) + "\n");
  for (const v of verdicts(rows))
    log(`${v.met === null ? "n/a " : v.met ? "MET " : "MISS"}  ${v.target}: ${v.measured}`);
  if (writeDocs && !onlyCases && !onlySystems) {
    await writeSection(section(rows, info, busyBefore));
    log(`wrote the durable section of ${DOCS}`);
  }
  log(`done in ${Math.round((Date.now() - t0) / 1000)} s`);
}

await main();
