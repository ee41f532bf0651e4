import type { Command } from "commander";
import { JobNotFoundError } from "../../client/index.js";
import { clientContext, print, printJson } from "../context.js";
import { jobDetails } from "../format.js";

export function registerGet(program: Command): void {
  program
    .command("get")
    .description("show one job: state, attempts, progress, result or error")
    .argument("<id>", "the job id")
    .action(async (id: string, _flags: unknown, cmd: Command) => {
      const { client, json } = clientContext(cmd);
      const job = await client.get(id);
      if (job === null) throw new JobNotFoundError(id);
      if (json) printJson(job);
      else for (const line of jobDetails(job)) print(line);
    });
}
