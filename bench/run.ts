/**
 * optiq (default memory store) side by side with p-queue and fastq.
 *
 *   npm run bench                      # everything, writes docs/benchmarks.md
 *   npm run bench -- --reps 5          # more repetitions
 *   npm run bench -- --cases noop-20k,timer-10ms --no-docs
 *   npm run bench -- --skip-slow       # leave out p-queue on 1M jobs (~9 min per run)
 *   npm run bench -- --cases timer-10ms --docs-path /tmp/b.md   # a partial run, written elsewhere
 *   npm run bench -- --render bench/results/core.json   # rewrite the docs section from saved results
 *
 * A full run saves its results (medians and every single run) to
 * bench/results/core.json before it writes the docs.
 *
 * Every measurement runs in a fresh child process
 * (`node --max-old-space-size=4096 --import tsx bench/cases/child.ts <case> <system>`),
 * so one system's heap never inflates the next one's RSS. Each (case, system)
 * is measured `reps` times, systems interleaved within a repetition so a
 * burst of load on a shared machine hits all of them alike; every reported
 * figure is the median of its runs.
 *
 * Prints one JSON line per (case, system) on stdout; progress goes to stderr.
 */
import { spawn } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { format } from "prettier";
import { CASES, SYSTEMS, type CaseSpec, type SystemName } from "./cases/definitions.js";
import { currentLoad, machineFacts } from "./lib/machine.js";
import { writeCoreSection, type CoreReport, type ResultRow } from "./lib/report.js";
import { median, round } from "./lib/stats.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CHILD = join(ROOT, "bench", "cases", "child.ts");
const CHILD_FLAGS = ["--max-old-space-size=4096", "--import", "tsx"];
/** p-queue on a 1M backlog is quadratic (see the notes): once is enough to show it. */
const SLOW = { case: "noop-1m", system: "p-queue", reps: 1 } as const;
const CHILD_TIMEOUT_MS = 30 * 60_000;

interface Measurement {
  case: string;
  system: SystemName;
  jobs: number;
  ms: number;
  jobs_per_s: number;
  cpu_ms: number;
  rss_mb: number;
  maxrss_mb: number;
  base_rss_mb: number;
  cold_ms?: number;
}

interface Args {
  reps: number;
  cases: CaseSpec[];
  systems: SystemName[];
  docs: boolean;
  /** Where the core section goes (default docs/benchmarks.md). */
  docsPath: string | null;
  skipSlow: boolean;
  /** Render the docs from saved results instead of measuring. */
  render: string | null;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    reps: 3,
    cases: [...CASES],
    systems: [...SYSTEMS],
    docs: true,
    docsPath: null,
    skipSlow: false,
    render: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--reps") args.reps = Math.max(1, Number.parseInt(value(), 10) || 1);
    else if (a === "--cases") {
      const names = value().split(",");
      args.cases = CASES.filter((c) => names.includes(c.name));
      const unknown = names.filter((n) => !CASES.some((c) => c.name === n));
      if (unknown.length > 0) throw new Error(`unknown case(s) ${unknown.join(", ")}`);
    } else if (a === "--systems") {
      const names = value().split(",");
      args.systems = SYSTEMS.filter((s) => names.includes(s));
      const unknown = names.filter((n) => !(SYSTEMS as readonly string[]).includes(n));
      if (unknown.length > 0) throw new Error(`unknown system(s) ${unknown.join(", ")}`);
    } else if (a === "--no-docs") args.docs = false;
    else if (a === "--skip-slow") args.skipSlow = true;
    else if (a === "--docs-path") args.docsPath = value();
    else if (a === "--render") args.render = value();
    else throw new Error(`unknown argument ${a}`);
  }
  // a partial run must not overwrite the full table
  const partial = args.cases.length !== CASES.length || args.systems.length !== SYSTEMS.length || args.skipSlow;
  if (partial && args.docsPath === null) args.docs = false;
  return args;
}

function measure(spec: CaseSpec, system: SystemName): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CHILD_FLAGS, CHILD, spec.name, system], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => (out += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), CHILD_TIMEOUT_MS);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0) {
        reject(new Error(`${spec.name}/${system}: child exited with ${signal ?? code}`));
        return;
      }
      try {
        resolve(JSON.parse(line) as Measurement);
      } catch {
        reject(new Error(`${spec.name}/${system}: unreadable child output ${JSON.stringify(out)}`));
      }
    });
  });
}

function repsFor(args: Args, spec: CaseSpec, system: SystemName): number {
  if (spec.name === SLOW.case && system === SLOW.system) return args.skipSlow ? 0 : Math.min(args.reps, SLOW.reps);
  return args.reps;
}

const RESULTS = join(ROOT, "bench", "results", "core.json");

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.render !== null) {
    const saved = JSON.parse(await readFile(args.render, "utf8")) as CoreReport;
    const path = await writeCoreSection(args.docsPath ?? join(ROOT, "docs", "benchmarks.md"), saved);
    process.stderr.write(`wrote ${path} from ${args.render}\n`);
    return;
  }
  const facts = machineFacts();
  process.stderr.write(
    `optiq bench: ${facts.nproc} CPUs (${facts.cpu}), node ${facts.node}, load ${facts.loadavg}; ` +
      `median of ${args.reps} fresh-process runs per (case, system)\n`,
  );
  const rows: ResultRow[] = [];
  const allRuns: Measurement[] = [];
  for (const spec of args.cases) {
    const runs = new Map<SystemName, Measurement[]>(args.systems.map((s) => [s, []]));
    for (let rep = 0; rep < args.reps; rep++) {
      for (const system of args.systems) {
        if (rep >= repsFor(args, spec, system)) continue;
        process.stderr.write(`  ${spec.name} ${system} run ${rep + 1} … `);
        const m = await measure(spec, system);
        process.stderr.write(`${m.jobs_per_s.toLocaleString("en-US")} jobs/s, ${m.ms} ms, peak RSS ${m.rss_mb} MB\n`);
        runs.get(system)!.push(m);
        allRuns.push(m);
      }
    }
    const caseRows: ResultRow[] = [];
    for (const system of args.systems) {
      const ms = runs.get(system)!;
      if (ms.length === 0) continue;
      const med = (f: (m: Measurement) => number, digits = 0): number => round(median(ms.map(f)), digits);
      caseRows.push({
        case: spec.name,
        system,
        jobs: spec.jobs,
        concurrency: spec.concurrency,
        runs: ms.length,
        jobsPerS: med((m) => m.jobs_per_s),
        minJobsPerS: Math.min(...ms.map((m) => m.jobs_per_s)),
        maxJobsPerS: Math.max(...ms.map((m) => m.jobs_per_s)),
        ms: med((m) => m.ms, 1),
        cpuMs: med((m) => m.cpu_ms),
        rssMb: med((m) => m.rss_mb, 1),
        maxRssMb: med((m) => m.maxrss_mb, 1),
        baseRssMb: med((m) => m.base_rss_mb, 1),
        coldMs: spec.warmupRuns > 0 ? med((m) => m.cold_ms ?? m.ms, 1) : null,
        limitMs: spec.limitMs,
        ratioVsOptiq: null,
      });
    }
    const optiq = caseRows.find((r) => r.system === "optiq");
    for (const row of caseRows) {
      row.ratioVsOptiq = optiq ? round(row.jobsPerS / optiq.jobsPerS, 3) : null;
      const line: Record<string, unknown> = {
        case: row.case,
        system: row.system,
        jobs_per_s: row.jobsPerS,
        rss_mb: row.rssMb,
        ratio_vs_optiq: row.ratioVsOptiq,
      };
      if (spec.limitMs !== null) {
        line.ms = row.ms;
        line.limit_ms = spec.limitMs;
      }
      process.stdout.write(JSON.stringify(line) + "\n");
      rows.push(row);
    }
  }
  if (args.docs) {
    const report: CoreReport = { facts, loadAfter: currentLoad(), reps: args.reps, rows };
    if (args.docsPath === null) {
      await mkdir(dirname(RESULTS), { recursive: true });
      const json = JSON.stringify({ ...report, runs: allRuns }, null, 2);
      await writeFile(RESULTS, await format(json, { parser: "json", filepath: RESULTS })); // prettier --check .
    }
    const path = await writeCoreSection(args.docsPath ?? join(ROOT, "docs", "benchmarks.md"), report);
    process.stderr.write(`wrote ${path}\n`);
  } else {
    process.stderr.write("partial run: docs/benchmarks.md left as it was\n");
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
