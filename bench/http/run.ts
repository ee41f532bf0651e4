/**
 * `npm run bench:http`: what the HTTP layer costs, side by side in one run.
 *
 * One memory-store queue with a no-op handler serves every case, and each
 * case is timed against the same work done in process, so a noisy machine
 * moves both sides together. The HTTP load comes from a second process
 * (bench/http/load.ts, plain `node:http` with keep-alive), as it would in
 * use; on this 2-core machine it takes one core of the two.
 *
 *   one call each   N jobs submitted one request each, 64 in flight, until all completed:
 *                   `queue.submit` in process vs `POST /api/jobs`, beside a bare fastify
 *                   route answering the same requests (the framework's floor)
 *   batches of 100  the same with `submitMany` vs `POST /api/jobs/batch`
 *   round trip      one job at a time, submit then its result, p50/p99: in process vs
 *                   `OptiqClient` (fetch) in this process
 *   event streams   N jobs in batches, in process, paced at 10k jobs/s, while K clients
 *                   read every event: this process's CPU per job against none reading
 *
 * Prints one JSON line per case; the figures go to docs/benchmarks.md with
 * the command and the machine's load.
 */
import { fork, type ChildProcess } from "node:child_process";
import Fastify from "fastify";
import { OptiqClient } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import { Optiq, type Logger, type SubmitManyItem } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";
import { currentLoad } from "../lib/machine.js";

const N = Number(process.env.HTTP_BENCH_JOBS ?? 20_000);
const ROUND_TRIPS = 2_000;
const IN_FLIGHT = 64;
const BATCH = 100;
const STREAMS = 4;
const PACE_PER_S = 10_000;

const queue = new Optiq({ concurrency: 100, retention: { maxCount: 10_000 } });
queue.define("noop", () => null);
await queue.start();
/** Event-stream clients the server dropped for falling more than 1 MiB behind. */
let streamsDropped = 0;
const countDrops: Logger = {
  ...silentLogger,
  warn: (_obj, msg) => {
    if (msg?.includes("too slow")) streamsDropped++;
  },
};
const server = await createServer({ queue, dashboard: false, logger: countDrops });
const url = await server.listen({ port: 0, host: "127.0.0.1" });
const completed = completionCounter(queue);
const load = await startLoad();

console.error(`http bench: ${N} jobs per case, load ${currentLoad()}`);
await timed(() => submitEach(1_000), 1_000); // warm-up, both sides
await timed(() => ask(load, { kind: "submit", url, n: 1_000 }), 1_000);
await timed(() => ask(load, { kind: "batch", url, n: 1_000 }), 1_000);

// the framework's floor: a bare fastify route that parses the same body and answers the same way
const floor = Fastify();
floor.post("/api/jobs", async (_request, reply) => reply.code(201).send({ id: "1", created: true }));
const floorUrl = await floor.listen({ port: 0, host: "127.0.0.1" });
await ask(load, { kind: "submit", url: floorUrl, n: 1_000 });
const floorStart = performance.now();
await ask(load, { kind: "submit", url: floorUrl, n: N });
const floorRate = round((N * 1000) / (performance.now() - floorStart), 0);
await floor.close();

const rows: Record<string, unknown>[] = [
  { case: "bare fastify POST (no queue), one call each, 64 in flight", system: "fastify", requests_per_s: floorRate },
];
for (const [name, local, remote] of [
  ["one call each, 64 in flight", () => submitEach(N), () => ask(load, { kind: "submit", url, n: N })],
  ["batches of 100", () => submitBatches(N), () => ask(load, { kind: "batch", url, n: N })],
] as const) {
  const inProcess = await timed(local, N);
  const http = await timed(remote, N);
  rows.push({ case: `submit+complete, ${name}`, system: "in process", jobs_per_s: inProcess });
  rows.push({ case: `submit+complete, ${name}`, system: "HTTP", jobs_per_s: http, ratio: round(http / inProcess, 3) });
}

const client = new OptiqClient({ url });
await roundTrips(
  (i) => queue.submit("noop", i),
  (id) => queue.result(id),
  200,
);
await roundTrips(
  (i) => client.submit("noop", i),
  (id) => client.result(id),
  200,
);
rows.push({
  case: "round trip submit → result, one at a time",
  system: "in process",
  ...(await roundTrips(
    (i) => queue.submit("noop", i),
    (id) => queue.result(id),
    ROUND_TRIPS,
  )),
});
rows.push({
  case: "round trip submit → result, one at a time",
  system: "HTTP (OptiqClient)",
  ...(await roundTrips(
    (i) => client.submit("noop", i),
    (id) => client.result(id),
    ROUND_TRIPS,
  )),
});

// event streams: the server's CPU per job at a pace the readers can follow (a reader that falls
// 1 MiB behind is dropped by design, which at full speed would measure the drop, not the stream)
const quiet = await pacedCpu(N);
await ask(load, { kind: "streams", url, k: STREAMS });
const watched = await pacedCpu(N);
const { counts } = (await ask(load, { kind: "close" })) as { counts: number[] };
rows.push({ case: `${PACE_PER_S} jobs/s paced, no event stream`, system: "optiq", server_cpu_us_per_job: quiet });
rows.push({
  case: `${PACE_PER_S} jobs/s paced, ${STREAMS} event streams reading`,
  system: "optiq",
  server_cpu_us_per_job: watched,
  ratio: round(watched / quiet, 3),
  events_per_stream: counts,
  streams_dropped_as_too_slow: streamsDropped,
});
for (const row of rows) console.log(JSON.stringify(row));

await server.close();
await queue.stop();

function startLoad(): Promise<ChildProcess> {
  const child = fork(new URL("./load.ts", import.meta.url), [], { execArgv: ["--import", "tsx"] });
  return new Promise((resolve, reject) => {
    child.once("message", () => resolve(child));
    child.once("error", reject);
  });
}

function ask(child: ChildProcess, command: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("exit", (code) => reject(new Error(`load process exited ${code}`)));
    child.send(command);
  });
}

/** Resolves when `n` more jobs have completed than when it was called. */
function completionCounter(q: Optiq): (n: number) => Promise<void> {
  let done = 0;
  let waiter: { at: number; resolve: () => void } | null = null;
  q.on("completed", () => {
    done++;
    if (waiter && done >= waiter.at) {
      waiter.resolve();
      waiter = null;
    }
  });
  return (n) => new Promise<void>((resolve) => (waiter = { at: done + n, resolve }));
}

/** Jobs per second from the first submit to the last completion. */
async function timed(run: () => Promise<unknown>, n: number): Promise<number> {
  const allDone = completed(n);
  const start = performance.now();
  await run();
  await allDone;
  return round((n * 1000) / (performance.now() - start), 0);
}

/** This process's CPU time per job, submitting batches of 100 at PACE_PER_S until all completed. */
async function pacedCpu(n: number): Promise<number> {
  const allDone = completed(n);
  const before = process.cpuUsage();
  const start = performance.now();
  for (let sent = 0; sent < n; sent += BATCH) {
    const due = start + (sent * 1000) / PACE_PER_S;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await queue.submitMany(Array.from({ length: Math.min(BATCH, n - sent) }, () => ({ name: "noop" })));
  }
  await allDone;
  const used = process.cpuUsage(before);
  return round((used.user + used.system) / n, 2);
}

async function submitEach(n: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) {
        next++;
        await queue.submit("noop", null);
      }
    }),
  );
}

async function submitBatches(n: number): Promise<void> {
  for (let sent = 0; sent < n; sent += BATCH) {
    const items: SubmitManyItem[] = Array.from({ length: Math.min(BATCH, n - sent) }, () => ({ name: "noop" }));
    await queue.submitMany(items);
  }
}

async function roundTrips(
  submit: (i: number) => Promise<{ id: string }>,
  result: (id: string) => Promise<unknown>,
  n: number,
): Promise<{ p50_ms: number; p99_ms: number }> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await result((await submit(i)).id);
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  return { p50_ms: round(ms[Math.floor(n * 0.5)]!, 3), p99_ms: round(ms[Math.floor(n * 0.99)]!, 3) };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
