/**
 * The SQLite store's floor: how fast the store alone moves no-op jobs, with
 * no worker or handler on top. Durable settings (synchronous=FULL, WAL) on a
 * temp file. Run: npx tsx bench/sqlite-floor.ts [jobs] [batch]
 *
 * 1. enqueue `jobs` jobs in batches of `batch`
 * 2. claim `batch` + settle them completed, until none is left
 * 3. wake-up latency between two stores on the same file (the path another
 *    process takes): settle through one, time until the other's onFinished,
 *    with the WAL file watched (the default) and with polling alone
 */
import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EnqueueJob } from "../src/store/port.js";
import { SqliteStore } from "../src/stores/sqlite/index.js";

const JOBS = Number(process.argv[2] ?? 20_000);
const BATCH = Number(process.argv[3] ?? 500);
const LATENCY_SAMPLES = 40;
const path = join(tmpdir(), `optiq-sqlite-floor-${randomUUID()}.db`);

const job = (now: number): EnqueueJob => ({
  name: "noop",
  inputJson: '{"n":1}',
  priority: 0,
  runAt: now,
  maxAttempts: 3,
  timeoutMs: null,
  backoff: { type: "exponential", baseMs: 1000, maxMs: 60_000, jitter: true },
  key: null,
  group: null,
});

const rate = (n: number, ms: number): string => `${Math.round((n / ms) * 1000).toLocaleString("en-US")} jobs/s`;

async function main(): Promise<void> {
  const store = new SqliteStore({ path, synchronous: "FULL" });
  await store.init();
  // the default retention (10k finished jobs kept) applies: trimming is part of the cost
  await store.configure({ groups: new Map(), retention: { maxAgeMs: 24 * 3600_000, maxCount: 10_000 } });
  const now = Date.now();

  let t = performance.now();
  for (let done = 0; done < JOBS; done += BATCH) {
    const n = Math.min(BATCH, JOBS - done);
    await store.enqueue({ jobs: Array.from({ length: n }, () => job(now)), now, maxQueued: null });
  }
  const enqueueMs = performance.now() - t;

  t = performance.now();
  let processed = 0;
  const names = new Map([["noop", BATCH]]);
  for (;;) {
    const { jobs } = await store.claim({ workerId: "bench", limit: BATCH, names, leaseMs: 60_000, now });
    if (jobs.length === 0) break;
    await store.settle({
      workerId: "bench",
      settlements: jobs.map((j) => ({
        id: j.id,
        attempt: j.attempt,
        outcome: { kind: "completed", resultJson: "null" },
      })),
      now,
    });
    processed += jobs.length;
  }
  const drainMs = performance.now() - t;
  const counts = await store.counts();
  if (processed !== JOBS || counts.queued !== 0 || counts.running !== 0) {
    throw new Error(`lost jobs: processed ${processed}, counts ${JSON.stringify(counts)}`);
  }

  // cross-connection wake-up latency (default pollIntervalMs), with and without watching the WAL file
  const watched = await wakeUps(store, now, true);
  const polled = await wakeUps(store, now, false);
  await store.close();

  console.log(`SqliteStore floor, synchronous=FULL, WAL, ${JOBS} jobs, batches of ${BATCH}`);
  console.log(`  enqueue:          ${rate(JOBS, enqueueMs)} (${enqueueMs.toFixed(0)} ms)`);
  console.log(`  claim + complete: ${rate(JOBS, drainMs)} (${drainMs.toFixed(0)} ms)`);
  for (const [label, xs] of [
    ["WAL watched (default)", watched],
    ["polling alone (watch: false)", polled],
  ] as const) {
    console.log(
      `  wake-up latency across connections, ${label}, poll 100 ms: ` +
        `p50 ${pct(xs, 0.5)} ms, p90 ${pct(xs, 0.9)} ms, max ${pct(xs, 1)} ms`,
    );
  }
}

/** Settles through `store`, times until another store on the same file hears of it. */
async function wakeUps(store: SqliteStore, now: number, watch: boolean): Promise<number[]> {
  const reader = new SqliteStore({ path, watch });
  await reader.init();
  const latencies: number[] = [];
  // the store's poll timer is unref()ed; this run keeps itself alive while it waits
  const keepAlive = setInterval(() => {}, 1000);
  const waiting = new Map<string, (at: number) => void>();
  const off = await reader.subscribe({
    onFinished: (ids) => {
      const at = performance.now();
      for (const id of ids) waiting.get(id)?.(at);
    },
  });
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const [r] = await store.enqueue({ jobs: [job(now)], now, maxQueued: null });
    const seen = new Promise<number>((resolve) => waiting.set(r!.id, resolve));
    // a random phase against the poll timer, as real writes have
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 100));
    const sent = performance.now();
    await store.cancel({ id: r!.id, reason: "bench", now });
    latencies.push((await seen) - sent);
  }
  await off();
  clearInterval(keepAlive);
  await reader.close();
  return latencies.sort((a, b) => a - b);
}

function pct(sorted: readonly number[], p: number): string {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(1);
}

try {
  await main();
} finally {
  await Promise.all(["", "-wal", "-shm"].map((s) => rm(`${path}${s}`, { force: true })));
}
