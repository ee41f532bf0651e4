import type { Command } from "commander";
import { clientContext, print, printJson } from "../context.js";

export function registerCancel(program: Command): void {
  program
    .command("cancel")
    .description("cancel a queued job (it never runs) or a running one (its signal aborts)")
    .argument("<id>", "the job id")
    .option("--reason <reason>", "why, kept with the job")
    .action(async (id: string, flags: { reason?: string }, cmd: Command) => {
      const { client, json } = clientContext(cmd);
      const cancelled = await client.cancel(id, flags.reason === undefined ? {} : { reason: flags.reason });
      if (json) printJson({ id, cancelled });
      else print(cancelled ? `cancelling job ${id}` : `job ${id} was not queued or running: nothing to cancel`);
    });
}
