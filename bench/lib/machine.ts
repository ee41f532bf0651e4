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
