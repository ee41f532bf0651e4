import { readFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";

export interface MachineFacts {
  nproc: number;
  cpu: string;
  memoryGb: number;
  node: string;
  v8: string;
  platform: string;
  date: string;
  loadavg: string;
}

/** What a reader needs to compare these numbers with their own. */
export function machineFacts(): MachineFacts {
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
    loadavg: currentLoad(),
  };
}

/** 1, 5 and 15 minute load averages. */
export function currentLoad(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(" / ");
}

/** USER_HZ: the unit of /proc/stat, 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_S = 100;

/** CPU time all CPUs spent busy since boot (Linux /proc/stat), ms; null elsewhere. */
function machineBusyMs(): number | null {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait
    const busy = fields.slice(0, 8).reduce((a, b) => a + b, 0) - fields[3]! - fields[4]!;
    return Math.round((busy * 1000) / CLOCK_TICKS_PER_S);
  } catch {
    return null;
  }
}

/** CPU over a timed window, ms: this process's, and the whole machine's where known. */
export interface CpuUsed {
  client_cpu_ms: number;
  machine_cpu_ms?: number;
}

/**
 * Where the CPU goes over a timed window: `client_cpu_ms` is this process,
 * `machine_cpu_ms` every CPU of the machine (the database's too, on this
 * machine; Linux only). Call at the start, and the result at the end.
 */
export function cpuWindow(): () => CpuUsed {
  const cpu0 = process.cpuUsage();
  const machine0 = machineBusyMs();
  return () => {
    const cpu = process.cpuUsage(cpu0);
    const machine1 = machineBusyMs();
    return {
      client_cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
      ...(machine0 !== null && machine1 !== null ? { machine_cpu_ms: machine1 - machine0 } : {}),
    };
  };
}
