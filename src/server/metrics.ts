import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { Health } from "../health.js";
import type { Optiq, Stats } from "../optiq.js";
import type { Totals } from "../core/stats.js";

interface Snapshot {
  stats: Stats;
  health: Health;
}

const TOTALS: readonly (keyof Totals)[] = [
  "submitted",
  "started",
  "completed",
  "failed",
  "retried",
  "cancelled",
  "rejected",
];

let processMetrics: Registry | null = null;

/**
 * prom-client's default metrics (process_*, nodejs_*) describe the process,
 * not a server, and their collectors (a GC observer, an event-loop delay
 * histogram) are never turned off: made once per process, shared by every
 * server, so creating and closing servers leaks nothing.
 */
function processRegistry(): Registry {
  if (processMetrics === null) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

/**
 * The server's own registry (never prom-client's global one, so two servers
 * in one process do not collide). Every optiq metric is read from one
 * stats() and one health() per scrape, taken before the registry renders.
 */
export class QueueMetrics {
  readonly registry = new Registry();
  private current: Snapshot | null = null;
  /** Scrapes run one after another: each renders from the snapshot it took. */
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly queue: Optiq) {
    const registers = [this.registry];
    const read = (): Snapshot | null => this.current;
    new Gauge({
      name: "optiq_jobs",
      help: "Jobs in the store, per state.",
      labelNames: ["state"],
      registers,
      collect() {
        const s = read();
        if (!s) return;
        this.reset();
        for (const [state, count] of Object.entries(s.stats.counts)) this.set({ state }, count);
      },
    });
    gauge(registers, "optiq_running", "Jobs this process is running.", (s) => s.stats.running, read);
    gauge(registers, "optiq_capacity", "Slots of this process.", (s) => s.stats.capacity, read);
    gauge(registers, "optiq_utilization", "Running jobs over capacity, 0 to 1.", (s) => s.stats.utilization, read);
    gauge(
      registers,
      "optiq_throughput_per_second",
      "Jobs completed per second over the last minute.",
      (s) => s.stats.throughputPerSecond,
      read,
    );
    gauge(
      registers,
      "optiq_healthy",
      "1 when health() is healthy, else 0.",
      (s) => (s.health.status === "healthy" ? 1 : 0),
      read,
    );
    for (const key of TOTALS) {
      // a counter rather than a gauge named *_total: the value is the recorder's monotonic total, set at scrape
      new Counter({
        name: `optiq_jobs_${key}_total`,
        help: `Jobs ${key} since this process started.`,
        registers,
        collect() {
          const s = read();
          if (!s) return;
          this.reset();
          this.inc(s.stats.totals[key]);
        },
      });
    }
    quantiles(
      registers,
      "optiq_queue_wait_ms",
      "Time from runnable to started, ms (last minute).",
      (s) => s.stats.queueWaitMs,
      read,
    );
    quantiles(
      registers,
      "optiq_run_ms",
      "Run time of finished attempts, ms (last minute).",
      (s) => s.stats.runTimeMs,
      read,
    );
  }

  /** The Prometheus text of one scrape. */
  scrape(): Promise<string> {
    const next = this.last.then(async () => {
      const [stats, health] = await Promise.all([this.queue.stats(), this.queue.health()]);
      this.current = { stats, health };
      try {
        return (await this.registry.metrics()) + (await processRegistry().metrics());
      } finally {
        this.current = null;
      }
    });
    this.last = next.catch(() => undefined);
    return next;
  }
}

function gauge(
  registers: Registry[],
  name: string,
  help: string,
  value: (s: Snapshot) => number,
  read: () => Snapshot | null,
): void {
  new Gauge({
    name,
    help,
    registers,
    collect() {
      const s = read();
      if (s) this.set(value(s));
    },
  });
}

function quantiles(
  registers: Registry[],
  name: string,
  help: string,
  value: (s: Snapshot) => { p50: number | null; p95: number | null },
  read: () => Snapshot | null,
): void {
  new Gauge({
    name,
    help,
    labelNames: ["quantile"],
    registers,
    collect() {
      const s = read();
      if (!s) return;
      this.reset();
      // no sample in the window: no series, rather than a made-up zero
      const { p50, p95 } = value(s);
      if (p50 !== null) this.set({ quantile: "0.5" }, p50);
      if (p95 !== null) this.set({ quantile: "0.95" }, p95);
    },
  });
}

export function metricsRoute(api: FastifyInstance, metrics: QueueMetrics): void {
  api.get("/metrics", async (_request, reply) => {
    const text = await metrics.scrape();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
