import { Option, type Command } from "commander";
import { globals } from "../context.js";
import { nonNegative, port, positive } from "../parse.js";
import type { ServeFlags } from "../serve/run.js";
import { UsageError } from "../usage-error.js";
import { DEFAULT_DB } from "../serve/store.js";

const HANDLERS_HELP = `
Handlers module (--handlers <module>, a path relative to the working directory; .ts works):
  export default async function (queue) {        // required: define the handlers; may submit jobs
    queue.define("resize", async (job, ctx) => { ctx.progress(0.5); return job.input; });
  }
  export const options = {                        // optional: merged into new Optiq(options)
    groups: { gpu: { concurrency: 4, rateLimit: { limit: 50, intervalMs: 1000 } } },
    defaults: { maxAttempts: 5 },
  };
--concurrency overrides options.concurrency; the store is always the one the flags choose.

Stops on SIGINT or SIGTERM: the server closes, running jobs get --grace-ms to finish, then exit 0.`;

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run a queue with its HTTP API and dashboard (SQLite ./optiq.db unless told otherwise)")
    .addOption(new Option("--db <file>", `SQLite database file, created if missing (default: ${DEFAULT_DB})`))
    .addOption(new Option("--postgres <url>", "use PostgreSQL at this connection string").conflicts(["db", "memory"]))
    .option("--schema <name>", 'with --postgres: the schema holding optiq\'s tables (default "optiq")')
    .addOption(new Option("--memory", "keep jobs in memory only (lost on exit)").conflicts(["db", "postgres"]))
    .option("--port <port>", "port to listen on (0: any free port)", port, 8080)
    .option("--host <host>", "interface to listen on", "127.0.0.1")
    .option("--handlers <module>", "module defining the handlers (see below)")
    .option("--concurrency <n>", "jobs running at once in this process (default 10)", positive)
    .option("--grace-ms <ms>", "on shutdown, how long running jobs may take to finish", nonNegative, 30_000)
    .option("--no-dashboard", "do not serve the web dashboard at /")
    .addHelpText("after", HANDLERS_HELP)
    .action(async (flags: Omit<ServeFlags, "token">, cmd: Command) => {
      if (flags.schema !== undefined && flags.postgres === undefined) {
        throw new UsageError("--schema: only with --postgres");
      }
      const { serve } = await import("../serve/run.js");
      const token = globals(cmd).token;
      await serve({ ...flags, ...(token ? { token } : {}) });
    });
}
