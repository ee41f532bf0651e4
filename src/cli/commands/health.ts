import type { Command } from "commander";
import { clientContext, print, printJson } from "../context.js";

export function registerHealth(program: Command): void {
  program
    .command("health")
    .description("healthy or degraded, with the reasons; exits 1 when degraded")
    .action(async (_flags: unknown, cmd: Command) => {
      const { client, json } = clientContext(cmd);
      const h = await client.health();
      if (json) printJson(h);
      else {
        print(`${h.status}${h.running ? "" : " (the queue is not running)"}`);
        for (const issue of h.issues) print(`  ${issue.kind}: ${issue.message}`);
      }
      if (h.status !== "healthy") process.exitCode = 1;
    });
}
