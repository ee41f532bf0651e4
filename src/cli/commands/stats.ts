import type { Command } from "commander";
import { clientContext, print, printJson } from "../context.js";
import { totalsLine } from "../format.js";
import { formatNumber } from "../progress.js";

export function registerStats(program: Command): void {
  program
    .command("stats")
    .description("counts per state, running vs capacity, totals, throughput, p50/p95 wait and run times")
    .action(async (_flags: unknown, cmd: Command) => {
      const { client, json } = clientContext(cmd);
      const s = await client.stats();
      if (json) {
        printJson(s);
        return;
      }
      print(totalsLine(s));
      print(`utilization ${Math.round(s.utilization * 100)}%`);
      const t = s.totals;
      print(
        `totals      submitted ${t.submitted} · started ${t.started} · completed ${t.completed} · failed ${t.failed} · ` +
          `retried ${t.retried} · cancelled ${t.cancelled} · rejected ${t.rejected}`,
      );
      print(`queue wait  p50 ${ms(s.queueWaitMs.p50)} · p95 ${ms(s.queueWaitMs.p95)}`);
      print(`run time    p50 ${ms(s.runTimeMs.p50)} · p95 ${ms(s.runTimeMs.p95)}`);
    });
}

function ms(v: number | null): string {
  return v === null ? "-" : `${formatNumber(v)} ms`;
}
