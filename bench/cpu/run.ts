/**
 * CPU-bound jobs: does optiq's sandbox pool turn N jobs into about
 * ceil(N / cores) × the single-job time, and how does it compare with a plain
 * worker_threads pool running the same handler function?
 *
 *   npx tsx bench/cpu/run.ts              # 5 reps, 8 jobs, writes the cpu section of docs/benchmarks.md
 *   npx tsx bench/cpu/run.ts --reps 1 --jobs 4 --no-docs
 *
 * The work is examples/handlers/optimize-handler.ts: a (1+1)-ES on the
 * 10-dimensional Rastrigin function, 100 trials of 30,000 evaluations
 * (about 1.5 s on one core here), reporting progress every trial and
 * checkpointing every 10. Prints one JSON line per (case, system); see
 * writeDocs() for the method.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { isDeepStrictEqual } from "node:util";
import { Optiq, sandboxHandler, type HandlerContext, type RunningJob } from "../../src/index.js";
import optimizeHandler, {
  type OptimizeJobInput,
  type OptimizeJobResult,
} from "../../examples/handlers/optimize-handler.js";

// ------------------------------------------------------------------- options

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(`--${name}`);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer`);
  return v;
};

const REPS = option("reps", 5);
const JOBS = option("jobs", 8);
const CORES = availableParallelism();
const JOB: Omit<OptimizeJobInput, "seed"> = {
  fn: "rastrigin",
  dims: 10,
  trials: option("trials", 100),
  evalsPerTrial: option("evals", 30_000),
};
/** Warm-up: tiny jobs, one per thread, so thread start-up and module loading are not timed. */
const WARMUP: Omit<OptimizeJobInput, "seed"> = { fn: "rastrigin", dims: 10, trials: 2, evalsPerTrial: 1000 };
const HANDLER_URL = new URL("../../examples/handlers/optimize-handler.ts", import.meta.url);
const DOCS = fileURLToPath(new URL("../../docs/benchmarks.md", import.meta.url));
const START = "<!-- cpu:start -->";
const END = "<!-- cpu:end -->";

const SYSTEMS = {
  main: "main thread, no pool",
  plain: "plain worker_threads pool",
  optiq: "optiq sandbox (thread)",
} as const;
type System = keyof typeof SYSTEMS;

const inputs = (n: number, seed0: number): OptimizeJobInput[] =>
  Array.from({ length: n }, (_, i) => ({ ...JOB, seed: seed0 + i }));

// ------------------------------------------------------------- measurement

interface Sample {
  ms: number;
  /** CPU time of this whole process (all threads) over the window, ms. */
  cpuMs: number;
  /** CPU time of other processes over the window, ms (Linux /proc/stat; null elsewhere). */
  othersCpuMs: number | null;
  /** The main thread's event loop busy time over the window, ms (performance.eventLoopUtilization). */
  mainBusyMs: number;
  results: OptimizeJobResult[];
}

/** Busy and total jiffies of the machine, from /proc/stat (Linux). */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

const TICK_MS = 10; // USER_HZ = 100 on Linux

/** Machine-wide CPU busy share (0..1) seen before each measurement, for the docs. */
const busyBefore: number[] = [];

/**
 * Waits (up to 5 s, in 200 ms samples) until the machine's CPUs are at most
 * 15% busy: another process's burst should not land in a measurement. The
 * pools are idle here, so the busy time is other processes'.
 */
async function waitForQuietCpu(): Promise<void> {
  const deadline = performance.now() + 5000;
  let busy = NaN;
  do {
    const a = machineTicks();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const b = machineTicks();
    if (!a || !b || b.total === a.total) return;
    busy = (b.busy - a.busy) / (b.total - a.total);
  } while (busy > 0.15 && performance.now() < deadline);
  busyBefore.push(busy);
}

async function measure(run: () => Promise<OptimizeJobResult[]>): Promise<Sample> {
  await waitForQuietCpu();
  const ticks0 = machineTicks();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const results = await run();
  const ms = performance.now() - t0;
  const mainBusyMs = performance.eventLoopUtilization(elu0).active;
  const cpu = process.cpuUsage(cpu0);
  const ticks1 = machineTicks();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const othersCpuMs = ticks0 && ticks1 ? Math.max(0, (ticks1.busy - ticks0.busy) * TICK_MS - cpuMs) : null;
  return { ms, cpuMs, othersCpuMs, mainBusyMs, results };
}

// -------------------------------------------------------------- the systems

/** The handler outside optiq: progress and checkpoints go nowhere, the signal never aborts. */
function runDirect(input: OptimizeJobInput): Promise<OptimizeJobResult> {
  const ctx: HandlerContext = {
    signal: new AbortController().signal,
    workerId: "main",
    progress: () => undefined,
    checkpoint: () => undefined,
  };
  const job: RunningJob<OptimizeJobInput> = {
    id: "0",
    name: "optimize",
    input,
    attempt: 1,
    maxAttempts: 1,
    priority: 0,
    group: null,
    key: null,
    checkpoint: null,
    createdAt: Date.now(),
  };
  return optimizeHandler(job, ctx);
}

/**
 * A minimal pool of worker threads, no queue: each thread takes the next
 * input when it is free. The threads load TypeScript through tsx, as optiq's
 * sandbox threads do when their module is TypeScript.
 */
class PlainPool {
  private readonly workers: Worker[];
  private nextId = 1;

  constructor(size: number) {
    const tsxApi = import.meta.resolve("tsx/esm/api");
    const entry = new URL("./plain-worker.ts", import.meta.url).href;
    const boot =
      `const { register } = await import(${JSON.stringify(tsxApi)});\n` +
      `register();\n` +
      `await import(${JSON.stringify(entry)});\n`;
    const execArgv = withoutTsxHooks(process.execArgv);
    this.workers = Array.from(
      { length: size },
      () => new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { execArgv }),
    );
  }

  /** One job on each thread at once: starts them all and loads the module everywhere. */
  warm(input: OptimizeJobInput): Promise<OptimizeJobResult[]> {
    return Promise.all(this.workers.map((w) => this.runOn(w, input)));
  }

  async runAll(all: readonly OptimizeJobInput[]): Promise<OptimizeJobResult[]> {
    const results = new Array<OptimizeJobResult>(all.length);
    let next = 0;
    await Promise.all(
      this.workers.map(async (w) => {
        while (next < all.length) {
          const i = next++;
          results[i] = await this.runOn(w, all[i]!);
        }
      }),
    );
    return results;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private runOn(worker: Worker, input: OptimizeJobInput): Promise<OptimizeJobResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onMessage = (msg: { id: number; result?: OptimizeJobResult; error?: string }): void => {
        if (msg.id !== id) return;
        worker.off("message", onMessage);
        worker.off("error", reject);
        if (msg.error !== undefined) reject(new Error(msg.error));
        else resolve(msg.result!);
      };
      worker.on("message", onMessage);
      worker.once("error", reject);
      worker.postMessage({ id, input });
    });
  }
}

function withoutTsxHooks(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (/^--(import|require|loader|experimental-loader)$/.test(arg) && /tsx/.test(argv[i + 1] ?? "")) {
      i++;
      continue;
    }
    if (/^--(import|require|loader|experimental-loader)=.*tsx/.test(arg)) continue;
    out.push(arg);
  }
  return out;
}

interface RepSamples {
  one: Sample;
  many: Sample | null;
}

async function runOptiq(rep: number): Promise<RepSamples> {
  const handler = sandboxHandler({ module: HANDLER_URL, isolation: "thread", poolSize: CORES });
  const q = new Optiq({ concurrency: CORES });
  q.define("optimize", handler); // concurrency defaults to the pool size
  await q.start();
  try {
    const submitAndWait = async (all: readonly OptimizeJobInput[]): Promise<OptimizeJobResult[]> => {
      const subs = await q.submitMany(all.map((input) => ({ name: "optimize", input })));
      return Promise.all(subs.map((s) => q.result<OptimizeJobResult>(s.id)));
    };
    const warmup = Array.from({ length: CORES }, (_, i) => ({ ...WARMUP, seed: i + 1 }));
    await submitAndWait(warmup); // claimed together: each job starts its own thread
    if (handler.sandbox.pool.live.length !== CORES) throw new Error("optiq's pool did not warm up every thread");
    const one = await measure(() => submitAndWait(inputs(1, 1000 * rep)));
    const starts: number[] = [];
    const completions: number[] = [];
    const offStarted = q.on("started", () => starts.push(performance.now()));
    const offCompleted = q.on("completed", () => completions.push(performance.now()));
    const many = await measure(() => submitAndWait(inputs(JOBS, 1000 * rep)));
    offStarted();
    offCompleted();
    // a job that waited for a thread: from the completion that freed it to its start
    for (const t of starts.slice(CORES)) handoffs.push(t - Math.max(...completions.filter((c) => c <= t)));
    return { one, many };
  } finally {
    await q.stop();
  }
}

/** optiq, N-job runs: ms from a job's `completed` event to the start of the job waiting for that thread. */
const handoffs: number[] = [];

async function runPlain(rep: number): Promise<RepSamples> {
  const pool = new PlainPool(CORES);
  try {
    await pool.warm({ ...WARMUP, seed: 1 });
    const one = await measure(() => pool.runAll(inputs(1, 1000 * rep)));
    const many = await measure(() => pool.runAll(inputs(JOBS, 1000 * rep)));
    return { one, many };
  } finally {
    await pool.close();
  }
}

async function runMain(rep: number): Promise<RepSamples> {
  await runDirect({ ...WARMUP, seed: 1 });
  const one = await measure(async () => [await runDirect(inputs(1, 1000 * rep)[0]!)]);
  return { one, many: null };
}

// --------------------------------------------------------------------- main

const median = (values: readonly number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round = (x: number, digits = 0): number => Math.round(x * 10 ** digits) / 10 ** digits;

const facts = {
  nproc: CORES,
  cpu: cpus()[0]?.model.trim() ?? "unknown",
  memoryGb: Math.round(totalmem() / 1024 ** 3),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  date: new Date().toISOString(),
  loadBefore: loadavg()
    .map((x) => x.toFixed(2))
    .join(" / "),
};

const samples: Record<System, RepSamples[]> = { main: [], plain: [], optiq: [] };
for (let rep = 1; rep <= REPS; rep++) {
  // interleaved, so slow phases of a shared machine hit every system alike
  samples.optiq.push(await runOptiq(rep));
  samples.plain.push(await runPlain(rep));
  samples.main.push(await runMain(rep));
  // same inputs, same results, whoever runs them
  const [o, p, m] = [samples.optiq.at(-1)!, samples.plain.at(-1)!, samples.main.at(-1)!];
  if (!isDeepStrictEqual(o.one.results, p.one.results) || !isDeepStrictEqual(o.one.results, m.one.results)) {
    throw new Error(`rep ${rep}: the single-job results differ between systems`);
  }
  if (!isDeepStrictEqual(o.many!.results, p.many!.results)) throw new Error(`rep ${rep}: the N-job results differ`);
  process.stderr.write(
    `rep ${rep}/${REPS}: T1 optiq ${o.one.ms.toFixed(0)} ms, plain ${p.one.ms.toFixed(0)} ms, main ${m.one.ms.toFixed(0)} ms; ` +
      `${JOBS} jobs optiq ${o.many!.ms.toFixed(0)} ms, plain ${p.many!.ms.toFixed(0)} ms\n`,
  );
}
const loadAfter = loadavg()
  .map((x) => x.toFixed(2))
  .join(" / ");

interface Row {
  case: string;
  system: string;
  ms: number;
  runs: number[];
  ideal_ms?: number;
  ratio_vs_ideal?: number;
  ratio_vs_plain_pool?: number;
  /** This process's CPU time ÷ (wall time × cores), median. */
  cpu_use: number;
  /** Other processes' CPU time ÷ (wall time × cores), median. */
  others_cpu_use: number | null;
  /** This process's CPU time ÷ jobs, median: the work's own cost, whatever the wall time. */
  cpu_ms_per_job: number;
  /** The main thread's busy time ÷ jobs, median (for "main thread, no pool": the job itself). */
  main_busy_ms_per_job: number;
  /** optiq N jobs: from a job's completion to the start of the next job on that thread (all runs). */
  handoff_ms_median?: number;
  handoff_ms_max?: number;
}

const summarise = (list: Sample[]) => ({
  ms: median(list.map((s) => s.ms)),
  cpu_ms_per_job: round(median(list.map((s) => s.cpuMs / s.results.length))),
  main_busy_ms_per_job: round(median(list.map((s) => s.mainBusyMs / s.results.length)), 1),
  runs: list.map((s) => round(s.ms)),
  cpu_use: round(median(list.map((s) => s.cpuMs / (s.ms * CORES))), 2),
  others_cpu_use: list.every((s) => s.othersCpuMs !== null)
    ? round(median(list.map((s) => s.othersCpuMs! / (s.ms * CORES))), 2)
    : null,
});

const one = {
  main: summarise(samples.main.map((r) => r.one)),
  plain: summarise(samples.plain.map((r) => r.one)),
  optiq: summarise(samples.optiq.map((r) => r.one)),
};
const many = {
  plain: summarise(samples.plain.map((r) => r.many!)),
  optiq: summarise(samples.optiq.map((r) => r.many!)),
};
const waves = Math.ceil(JOBS / CORES);
const idealOptiq = waves * one.optiq.ms;
const idealPlain = waves * one.plain.ms;
const manyCase = `cpu-${JOBS}-jobs`;

const rows: Row[] = [
  { case: "cpu-1-job", system: SYSTEMS.main, ...one.main, ms: round(one.main.ms, 1) },
  {
    case: "cpu-1-job",
    system: SYSTEMS.plain,
    ...one.plain,
    ms: round(one.plain.ms, 1),
  },
  {
    case: "cpu-1-job",
    system: SYSTEMS.optiq,
    ...one.optiq,
    ms: round(one.optiq.ms, 1),
    ratio_vs_plain_pool: round(one.optiq.ms / one.plain.ms, 3),
  },
  {
    case: manyCase,
    system: SYSTEMS.plain,
    ...many.plain,
    ms: round(many.plain.ms, 1),
    ideal_ms: round(idealPlain, 1),
    ratio_vs_ideal: round(many.plain.ms / idealPlain, 3),
  },
  {
    case: manyCase,
    system: SYSTEMS.optiq,
    ...many.optiq,
    ms: round(many.optiq.ms, 1),
    ideal_ms: round(idealOptiq, 1),
    ratio_vs_ideal: round(many.optiq.ms / idealOptiq, 3),
    ratio_vs_plain_pool: round(many.optiq.ms / many.plain.ms, 3),
    handoff_ms_median: round(median(handoffs), 2),
    handoff_ms_max: round(Math.max(...handoffs), 2),
  },
];
for (const r of rows) {
  const head = { case: r.case, system: r.system, ms: r.ms };
  const ratios = { ideal_ms: r.ideal_ms, ratio_vs_ideal: r.ratio_vs_ideal, ratio_vs_plain_pool: r.ratio_vs_plain_pool };
  console.log(JSON.stringify({ ...head, ...ratios, ...r })); // the headline fields first
}

if (!flag("no-docs")) {
  await writeDocs(rows, loadAfter);
  process.stderr.write(`wrote the ${START} … ${END} section of ${DOCS}\n`);
}

// --------------------------------------------------------------------- docs

async function writeDocs(table: Row[], after: string): Promise<void> {
  const fmt = (x: number | undefined, digits = 0): string =>
    x === undefined ? "" : x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const pct = (x: number | null): string => (x === null ? "n/a" : `${Math.round(x * 100)}%`);
  const ratio = (x: number | undefined): string => (x === undefined ? "" : `${fmt(x, 2)}×`);
  const lines = [
    "| Case | System | ms (median) | Runs (min–max) | Ideal ms | vs ideal | vs plain pool | CPU ms / job | CPU: bench | CPU: others |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...table.map(
      (r) =>
        `| ${r.case} | ${r.system} | ${fmt(r.ms)} | ${r.runs.length} (${fmt(Math.min(...r.runs))}–${fmt(Math.max(...r.runs))}) | ` +
        `${fmt(r.ideal_ms)} | ${ratio(r.ratio_vs_ideal)} | ${ratio(r.ratio_vs_plain_pool)} | ${fmt(r.cpu_ms_per_job)} | ` +
        `${pct(r.cpu_use)} | ${pct(r.others_cpu_use)} |`,
    ),
  ];
  const find = (c: string, system: string): Row => table.find((r) => r.case === c && r.system === system)!;
  const optiqMany = find(manyCase, SYSTEMS.optiq);
  const plainMany = find(manyCase, SYSTEMS.plain);
  const optiqOne = find("cpu-1-job", SYSTEMS.optiq);
  const plainOne = find("cpu-1-job", SYSTEMS.plain);
  const mainOne = find("cpu-1-job", SYSTEMS.main);
  const fastest = (r: Row): number => Math.min(...r.runs);
  const fastestIdeal = waves * fastest(optiqOne);
  const extraCpu = optiqMany.cpu_ms_per_job - plainMany.cpu_ms_per_job;
  const reading =
    `**Reading.** One job takes ${fmt(optiqOne.ms)} ms through optiq's sandbox, ${fmt(plainOne.ms)} ms in the plain ` +
    `pool (${ratio(optiqOne.ms / plainOne.ms)}) and ${fmt(mainOne.ms)} ms called directly on the main thread. ` +
    `${JOBS} such jobs on ${CORES} cores take ${fmt(optiqMany.ms)} ms with optiq: **${ratio(optiqMany.ratio_vs_ideal)} ` +
    `the ideal** ${waves} × T1 = ${fmt(optiqMany.ideal_ms)} ms, and **${ratio(optiqMany.ratio_vs_plain_pool)} the plain ` +
    `pool's** ${fmt(plainMany.ms)} ms (itself ${ratio(plainMany.ratio_vs_ideal)} its ideal). The medians carry this ` +
    `shared machine's noise (see the min–max column); the fastest runs, which it disturbs least, give optiq ` +
    `${fmt(fastest(optiqMany))} ms against the plain pool's ${fmt(fastest(plainMany))} ms ` +
    `(${ratio(fastest(optiqMany) / fastest(plainMany))}) and against ${waves} × its fastest T1 = ${fmt(fastestIdeal)} ms ` +
    `(${ratio(fastest(optiqMany) / fastestIdeal)}). The work does not slow down when the jobs run side by side — CPU ` +
    `time per job is ${fmt(optiqMany.cpu_ms_per_job)} ms in the ${JOBS}-job runs against ${fmt(optiqOne.cpu_ms_per_job)} ` +
    `ms alone (plain pool: ${fmt(plainMany.cpu_ms_per_job)} vs ${fmt(plainOne.cpu_ms_per_job)} ms) — and optiq's own ` +
    `cost between jobs is small: a job waiting for a thread started ${fmt(optiqMany.handoff_ms_median, 2)} ms (median; ` +
    `max ${fmt(optiqMany.handoff_ms_max, 2)} ms) after the \`completed\` event of the job that freed it. ` +
    `The queue's side runs on the main thread: ${fmt(optiqMany.main_busy_ms_per_job, 1)} ms of event-loop time per ` +
    `job (${(optiqMany.main_busy_ms_per_job / (optiqOne.ms / 100)).toFixed(1)}% of a job's run time; the plain pool's ` +
    `main thread: ${fmt(plainMany.main_busy_ms_per_job, 1)} ms) for claiming, a progress report per trial and a ` +
    `checkpoint per ten crossing the thread boundary and being stored, and settling; with every core busy that time ` +
    `comes out of the same ${CORES} cores the jobs run on` +
    (extraCpu > 0
      ? `, and optiq used ${fmt(extraCpu)} ms more CPU per job than the plain pool ` +
        `(${ratio(optiqMany.cpu_ms_per_job / plainMany.cpu_ms_per_job)}). `
      : `, yet it was lost in the noise: optiq's CPU per job was no higher than the plain pool's. `) +
    `The bench process kept the cores ${pct(optiqMany.cpu_use)} busy (optiq; plain pool ${pct(plainMany.cpu_use)}, ` +
    `main thread included); other processes took ${pct(optiqMany.others_cpu_use)} ` +
    `(${pct(plainMany.others_cpu_use)}).`;
  const section = [
    START,
    "",
    "## CPU-bound jobs: sandbox pool vs a plain worker_threads pool",
    "",
    "Generated by `npx tsx bench/cpu/run.ts` (about two minutes; `--reps N`, `--jobs N`, `--no-docs`); do not edit by hand between the markers.",
    "",
    `Machine: ${facts.nproc} CPUs (${facts.cpu}, ${facts.memoryGb} GB), ${facts.platform}, Node ${facts.node}, ${facts.date}; ` +
      `load average (1 / 5 / 15 min) ${facts.loadBefore} before the run, ${after} after.`,
    "",
    `- **Work**: \`examples/handlers/optimize-handler.ts\`, a (1+1)-evolution strategy on the ${JOB.dims}-dimensional ` +
      `${JOB.fn} function: ${JOB.trials} trials of ${JOB.evalsPerTrial.toLocaleString("en-US")} evaluations, synchronous ` +
      `within a trial; between trials it reports progress, checkpoints every 10th trial and yields to its event loop. ` +
      `Every job has its own seed; all systems get the same inputs and must return identical results (checked).`,
    `- **optiq sandbox (thread)**: \`define("optimize", { module, isolation: "thread", poolSize: ${CORES} })\` (pool size = ` +
      `\`os.availableParallelism()\`), memory store, \`submitMany\` then \`result()\` of each.`,
    `- **plain worker_threads pool**: ${CORES} \`new Worker()\` threads written in the bench, no queue: each free thread ` +
      `takes the next input and calls the same handler function with a context whose progress and checkpoint go nowhere.`,
    `- **main thread, no pool**: the same handler function called directly, for the bare compute time.`,
    `- Pools are warmed first (one tiny job per thread: thread start, tsx, module load), so times are for the work alone. ` +
      `T1 = one job; **ideal** = ceil(${JOBS} / ${CORES}) × T1 of the same system = ${waves} × T1. ` +
      `Each system ran ${REPS} times, optiq / plain / main interleaved; every figure is the median of its runs.`,
    `- **CPU ms / job**: CPU time of the bench process (all its threads, main included) over the window ÷ jobs. ` +
      `**CPU: bench** = that CPU time ÷ (wall time × ${CORES}); **CPU: others** = the rest of the machine's busy time ` +
      `(/proc/stat) over the same window, same scale. Before each measurement the bench waits (at most 5 s) for the ` +
      `CPUs to be at most 15% busy; measured then: median ${pct(busyBefore.length ? median(busyBefore) : null)}, ` +
      `max ${pct(busyBefore.length ? Math.max(...busyBefore) : null)}.`,
    "",
    ...lines,
    "",
    reading,
    "",
    END,
  ].join("\n");

  let formatted = section;
  try {
    const prettier = await import("prettier");
    formatted = (await prettier.format(section, { parser: "markdown", printWidth: 120 })).trimEnd();
  } catch {
    // prettier is a dev dependency: without it the section stays unaligned, still valid markdown
  }

  const current = existsSync(DOCS) ? readFileSync(DOCS, "utf8") : "# Benchmarks\n";
  const start = current.indexOf(START);
  const end = current.indexOf(END);
  let next: string;
  if (start >= 0 && end > start) {
    next = current.slice(0, start) + formatted + current.slice(end + END.length);
  } else {
    next = `${current.trimEnd()}\n\n${formatted}\n`;
  }
  writeFileSync(DOCS, next);
}
