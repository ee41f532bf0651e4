/**
 * `npm run demo`: 1000 optimization jobs on one optiq queue, in one process
 * (`npm start` serves the same jobs behind the API and the dashboard).
 *
 * Each job minimises a standard benchmark function (Sphere, Rosenbrock,
 * Rastrigin, Ackley) in 2–10 dimensions with a (1+1)-evolution strategy — a
 * real, small computation that reports progress, yields to the event loop
 * every few hundred evaluations and stops when its signal aborts. On the way
 * the demo shows priorities, a rate-limited group ("gpu": 4 at a time, at
 * most 50 starts per second), retries after a transient failure, a permanent
 * failure, and cancellation of queued and of running jobs. Alongside run a
 * few heavier "tune" jobs — a resumable evolution strategy on 10-dimensional
 * Rastrigin — in a pool of worker threads (a sandbox): CPU-bound work that
 * never stalls the queue, checkpointed as it goes, one of them cancelled
 * mid-run (its thread stops). Everything random
 * comes from a seeded PRNG, so every run submits the same jobs and finds the
 * same optima.
 */
import { Optiq, type Submitted } from "../src/index.js";
import {
  DEMO_OPTIONS,
  defineDemoHandlers,
  GPU,
  JOBS,
  optimizeItems,
  toCancelWhileQueued,
  toCancelWhileRunning,
  TUNE_JOBS,
  tuneItems,
  type JobInput,
  type TuneResult,
} from "./lib/demo-jobs.js";
import { FUNCTION_NAMES, type FunctionName } from "./lib/functions.js";
import type { OptimizeResult } from "./lib/optimize.js";
import { StatusLine } from "./lib/status-line.js";

const queue = new Optiq(DEMO_OPTIONS);
defineDemoHandlers(queue);
const items = optimizeItems();

// ----------------------------------------------------------- live bookkeeping

const inputs = new Map<string, JobInput>();
const gpuJobs = new Set<string>();
const running = new Set<string>();
interface Best {
  value: number;
  x: number[];
  evaluations: number;
  id: string;
}
/** Best result per function and per dimension count. */
const best = new Map<FunctionName, Map<number, Best>>(FUNCTION_NAMES.map((fn) => [fn, new Map()]));
let retries = 0;

queue.on("started", (e) => running.add(e.id));
queue.on("retrying", (e) => {
  running.delete(e.id);
  retries++;
});
queue.on("failed", (e) => running.delete(e.id));
queue.on("cancelled", (e) => running.delete(e.id));
const tuneIds = new Set<string>();
const tuneResults = new Map<string, TuneResult>();
queue.on("completed", (e) => {
  running.delete(e.id);
  if (tuneIds.has(e.id)) {
    tuneResults.set(e.id, e.result as TuneResult);
    return;
  }
  const input = inputs.get(e.id)!;
  const r = e.result as OptimizeResult;
  const byDims = best.get(input.fn)!;
  const current = byDims.get(input.dims);
  if (!current || r.best < current.value) {
    byDims.set(input.dims, { value: r.best, x: r.x, evaluations: r.evaluations, id: e.id });
  }
});

// cancel a few jobs while they run: at their first progress report
const cancelWhileRunning = new Set<string>();
queue.on("progress", (e) => {
  if (cancelWhileRunning.delete(e.id)) void queue.cancel(e.id, { reason: "demo: cancelled while running" });
});

const startedAt = Date.now();
let lastCompleted = 0;
let lastAt = startedAt;
const status = new StatusLine(async () => {
  const s = await queue.stats();
  const now = Date.now();
  const elapsed = (now - startedAt) / 1000;
  const rate = ((s.counts.completed - lastCompleted) * 1000) / Math.max(1, now - lastAt);
  lastCompleted = s.counts.completed;
  lastAt = now;
  let gpuRunning = 0;
  for (const id of running) if (gpuJobs.has(id)) gpuRunning++;
  return (
    `[${elapsed.toFixed(1).padStart(5)}s] completed ${s.counts.completed} | failed ${s.counts.failed} | ` +
    `cancelled ${s.counts.cancelled} | running ${s.running} (gpu ${gpuRunning}/4) | queued ${s.counts.queued} | ` +
    `${rate.toFixed(0)} jobs/s now, ${(s.counts.completed / Math.max(elapsed, 0.001)).toFixed(0)} avg | retries ${retries}`
  );
});

// -------------------------------------------------------------------- the run

await queue.start();
const submitted: Submitted[] = await queue.submitMany(items);
submitted.forEach((s, i) => {
  inputs.set(s.id, items[i]!.input as JobInput);
  if (items[i]!.options?.group === GPU) gpuJobs.add(s.id);
});
// listened to only now: an empty queue right after start() is drained too
const drained = new Promise<void>((resolve) => {
  queue.on("drained", () => {
    void queue.stats().then((s) => {
      if (s.counts.queued === 0 && s.running === 0) resolve();
    });
  });
});
status.start();

// cancel some queued jobs (low priority, far back in the queue: they have not started)
let cancelledQueued = 0;
for (const s of toCancelWhileQueued(submitted)) {
  if (await queue.cancel(s.id, { reason: "demo: cancelled while queued" })) cancelledQueued++;
}
// the heavy jobs run in worker threads: they checkpoint, resume after a crash, and stop when cancelled
const tunes = await queue.submitMany(tuneItems());
for (const t of tunes) tuneIds.add(t.id);
// a few optimize jobs and one tune job are cancelled at their first progress report
for (const id of toCancelWhileRunning(
  submitted.map((s) => s.id),
  tunes.map((t) => t.id),
)) {
  cancelWhileRunning.add(id);
}

await drained;
await status.stop();
const finalStats = await queue.stats();
const tuneStates = new Map<string, string>();
for (const t of tunes) tuneStates.set(t.id, (await queue.get(t.id))?.state ?? "removed");
await queue.stop();

// ----------------------------------------------------------------- the report

const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
console.log(
  `\n${JOBS} jobs in ${seconds} s (${cancelledQueued} cancelled while queued, ` +
    `${4 - cancelWhileRunning.size} while running, ${retries} retried after a transient error), ` +
    `plus ${TUNE_JOBS} sandboxed tune jobs. Final stats():`,
);
console.log(JSON.stringify(finalStats, null, 2));
const DIMS = [2, 3, 4, 5, 6, 7, 8, 9, 10];
console.log("\nBest minimum found, per function and dimension count (the global minimum is 0 everywhere):");
console.log(`  ${"dims".padEnd(10)}${DIMS.map((d) => String(d).padStart(10)).join("")}`);
for (const fn of FUNCTION_NAMES) {
  const byDims = best.get(fn)!;
  const cells = DIMS.map((d) => {
    const b = byDims.get(d);
    return (b ? b.value.toExponential(1) : "–").padStart(10);
  });
  console.log(`  ${fn.padEnd(10)}${cells.join("")}`);
}
console.log("\nBest point in the most dimensions, per function:");
for (const fn of FUNCTION_NAMES) {
  const byDims = best.get(fn)!;
  const dims = Math.max(...byDims.keys());
  const b = byDims.get(dims);
  if (!b) continue;
  console.log(
    `  ${fn.padEnd(10)} f = ${b.value.toExponential(3)} in ${dims} dims after ${b.evaluations} evaluations ` +
      `(job ${b.id}), x = [${b.x.join(", ")}]`,
  );
}
console.log("\nSandboxed tune jobs (10-dimensional Rastrigin, worker threads):");
for (const t of tunes) {
  const r = tuneResults.get(t.id);
  console.log(
    r
      ? `  job ${t.id}: f = ${r.best.toExponential(3)} after ${r.trials} trials, ${r.evaluations} evaluations`
      : `  job ${t.id}: ${tuneStates.get(t.id) ?? "not finished"}`,
  );
}
