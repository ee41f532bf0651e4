/**
 * One measurement in a fresh process:
 *   node --import tsx bench/durable/child.ts <case> <system> <namespace>
 * Prints one JSON line (a Measurement, see cases.ts) on stdout.
 *
 * Profiling knobs (off in the benchmark run):
 * - OPTIQ_BENCH_COUNT_QUERIES=1: counts every query sent through `pg` in this
 *   process, by statement, into `notes` (round trips per job).
 * - OPTIQ_BENCH_TRACE_QUERIES=<file>: also writes one JSON line per query
 *   (statement, start, end, rows), plus the submit and handler-start times
 *   of the pickup case, the handlers' runs of the timer case and the timed
 *   window, to <file>.
 * - OPTIQ_BENCH_TRACE_STORE=1 (optiq only): claim/settle calls, jobs per call
 *   and ms per call into `notes` (see adapters.ts).
 * - OPTIQ_BENCH_SQLITE_SYNC=NORMAL (optiq-sqlite only): what fsync costs.
 *
 * e.g. node --cpu-prof --import tsx bench/durable/child.ts noop-20k optiq-postgres obd_prof_1
 */
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { cpuWindow } from "../lib/machine.js";
import { RssSampler } from "../lib/rss.js";
import { round } from "../lib/stats.js";
import { makeAdapter, type Adapter, type Handler, type Input } from "./adapters.js";
import { FLOOR_BATCH, SYSTEMS, caseFor, findCase, type CaseSpec, type Measurement, type SystemName } from "./cases.js";
import { floorCeiling, openFloorPickup } from "./pg-floor.js";

const [caseName, systemArg, ns] = process.argv.slice(2);
if (!caseName || !systemArg || !ns || !(SYSTEMS as readonly string[]).includes(systemArg)) {
  console.error(`usage: child.ts <case> <${SYSTEMS.join("|")}> <namespace>`);
  process.exit(2);
}
const system = systemArg as SystemName;
const spec = caseFor(findCase(caseName), system);

// ------------------------------------------------------------ query counting

const queryCounts = new Map<string, number>();
/** OPTIQ_BENCH_TRACE_QUERIES=<file>: one JSON line per query (name, start, end, rows) written there at exit. */
const traceFile = process.env.OPTIQ_BENCH_TRACE_QUERIES;
const trace: { q: string; start: number; end: number; rows: number | null }[] = [];
if (process.env.OPTIQ_BENCH_COUNT_QUERIES === "1" || traceFile) {
  const original = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  (pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (
    this: pg.Client,
    ...args: unknown[]
  ) {
    const q = args[0] as string | { name?: string; text?: string } | undefined;
    const text = typeof q === "string" ? q : (q?.name ?? q?.text ?? "?");
    const key = text.replace(/\s+/g, " ").trim().slice(0, 60);
    queryCounts.set(key, (queryCounts.get(key) ?? 0) + 1);
    if (!traceFile) return original.apply(this, args);
    const entry = { q: key, start: performance.now(), end: 0, rows: null as number | null };
    trace.push(entry);
    const done = (res: unknown): void => {
      entry.end = performance.now();
      entry.rows = (res as { rowCount?: number } | undefined)?.rowCount ?? null;
    };
    const last = args[args.length - 1];
    if (typeof last === "function") {
      args[args.length - 1] = (err: unknown, res: unknown) => {
        done(res);
        return (last as (e: unknown, r: unknown) => unknown)(err, res);
      };
      return original.apply(this, args);
    }
    const out = original.apply(this, args) as { then?: unknown } | undefined;
    if (out && typeof out.then === "function") {
      (out as Promise<unknown>).then(done, () => done(undefined));
    }
    return out;
  };
}

function queryNotes(jobs: number): Record<string, number | string> {
  if (queryCounts.size === 0) return {};
  const total = [...queryCounts.values()].reduce((a, b) => a + b, 0);
  const top = [...queryCounts.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([k, n]) => `${n}× ${k}`)
    .join(" | ");
  return { queries: total, queries_per_job: Math.round((total / jobs) * 1000) / 1000, top_queries: top };
}

// ------------------------------------------------------------------ helpers

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function timeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ------------------------------------------------------------ the two cases

async function throughput(adapter: Adapter, c: CaseSpec, sampler: RssSampler): Promise<Partial<Measurement>> {
  let ran = 0;
  const handler: Handler =
    c.sleepMs > 0
      ? async () => {
          const at = performance.now();
          await sleep(c.sleepMs);
          ran++;
          if (traceFile) trace.push({ q: "@handler", start: at, end: performance.now(), rows: null });
        }
      : () => {
          ran++;
        };
  await adapter.open(handler, c.concurrency);
  const te = performance.now();
  for (let i = 0; i < c.jobs; i += c.enqueueBatch) {
    const inputs: Input[] = [];
    for (let k = i; k < Math.min(c.jobs, i + c.enqueueBatch); k++) inputs.push({ i: k });
    await adapter.enqueueMany(inputs);
    sampler.sample();
  }
  const enqueueMs = performance.now() - te;
  const done = adapter.completed(c.jobs);
  const cpuUsed = cpuWindow();
  const t0 = performance.now();
  trace.push({ q: "@timed-start", start: t0, end: t0, rows: null });
  await adapter.start();
  await timeout(done, 120_000, `${system} ${c.name}`);
  const ms = performance.now() - t0;
  const cpu = cpuUsed();
  trace.push({ q: "@timed-end", start: t0 + ms, end: t0 + ms, rows: null });
  if (ran < c.jobs) throw new Error(`${system} ran ${ran} handlers, expected ${c.jobs}`);
  return {
    ms: round(ms, 1),
    jobs_per_s: Math.round(c.jobs / (ms / 1000)),
    enqueue_ms: round(enqueueMs, 1),
    notes: {
      ...adapter.settings,
      handler_runs: ran,
      ...cpu,
    },
  };
}

/**
 * Submits warmup + jobs one by one at ratePerSecond (not waiting for the
 * previous submit), records handler start − submit call for each.
 */
async function pickup(
  open: (onStart: (i: number) => void) => Promise<{ submit: (i: number) => Promise<void> }>,
  c: CaseSpec,
): Promise<Partial<Measurement>> {
  const total = c.warmup + c.jobs;
  const submittedAt = new Float64Array(total).fill(NaN);
  const latency = new Float64Array(total).fill(NaN);
  let started = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const { submit } = await open((i) => {
    const at = performance.now();
    if (!Number.isNaN(latency[i]!)) return; // a second run of the same job: keep the first pickup
    latency[i] = at - submittedAt[i]!;
    if (traceFile) trace.push({ q: "@handler", start: at, end: at, rows: i });
    if (++started === total) resolveAll();
  });
  await sleep(300); // the worker is started and idle
  const interval = 1000 / c.ratePerSecond;
  const failures: unknown[] = [];
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = t0 + i * interval - performance.now();
    if (wait > 0) await sleep(wait);
    submittedAt[i] = performance.now();
    if (traceFile) trace.push({ q: "@submit", start: submittedAt[i]!, end: submittedAt[i]!, rows: i });
    submit(i).catch((err: unknown) => failures.push(err));
  }
  await timeout(all, 30_000, `${system} pickup`);
  if (failures.length > 0) throw failures[0];
  const measured = Array.from(latency.subarray(c.warmup)).sort((a, b) => a - b);
  return {
    p50_ms: round(percentile(measured, 0.5), 2),
    p99_ms: round(percentile(measured, 0.99), 2),
    max_ms: round(measured[measured.length - 1]!, 2),
    notes: { submit_span_ms: Math.round(performance.now() - t0) },
  };
}

// --------------------------------------------------------------------- main

async function main(): Promise<Measurement> {
  const sampler = new RssSampler();
  sampler.start(20);
  let result: Partial<Measurement>;
  // peak RSS up to the end of the measurement (closing and dropping the namespace excluded)
  let rssMb: number | null = null;
  if (system === "pg-floor") {
    if (spec.kind === "pickup") {
      let floor: Awaited<ReturnType<typeof openFloorPickup>> | null = null;
      try {
        result = await pickup(async (onStart) => {
          floor = await openFloorPickup(ns!, onStart);
          return floor;
        }, spec);
        rssMb = sampler.stop();
      } finally {
        await (floor as Awaited<ReturnType<typeof openFloorPickup>> | null)?.close();
      }
    } else {
      const { ms, statements, cpu } = await floorCeiling(ns!, spec.jobs, FLOOR_BATCH);
      result = {
        ms: round(ms, 1),
        jobs_per_s: Math.round(spec.jobs / (ms / 1000)),
        notes: { batch: FLOOR_BATCH, statements, ...cpu },
      };
    }
  } else {
    const adapter = makeAdapter(system, ns!);
    try {
      if (spec.kind === "pickup") {
        result = await pickup(async (onStart) => {
          await adapter.open((input) => onStart(input.i), spec.concurrency);
          await adapter.start();
          return { submit: (i) => adapter.submit({ i }) };
        }, spec);
        result.notes = { ...adapter.settings, ...result.notes };
      } else {
        result = await throughput(adapter, spec, sampler);
      }
      rssMb = sampler.stop();
    } finally {
      await adapter.close();
    }
  }
  rssMb ??= sampler.stop();
  const jobs = spec.kind === "pickup" ? spec.warmup + spec.jobs : spec.jobs;
  return {
    case: spec.name,
    system,
    jobs: spec.jobs,
    ...result,
    rss_mb: rssMb,
    notes: { ...result.notes, ...queryNotes(jobs) },
  };
}

const m = await main();
if (traceFile) {
  const { writeFileSync } = await import("node:fs");
  writeFileSync(traceFile, trace.map((e) => JSON.stringify(e)).join("\n") + "\n");
}
// some libraries keep timers or sockets after closing; the measurement is printed, so leave
process.stdout.write(JSON.stringify(m) + "\n", () => process.exit(0));
