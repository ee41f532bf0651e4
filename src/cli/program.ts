import { createRequire } from "node:module";
import { Command, CommanderError, Option } from "commander";
import { OptiqError } from "../core/errors.js";
import { registerCancel } from "./commands/cancel.js";
import { registerGet } from "./commands/get.js";
import { registerHealth } from "./commands/health.js";
import { registerList } from "./commands/list.js";
import { registerServe } from "./commands/serve.js";
import { registerStats } from "./commands/stats.js";
import { registerSubmit } from "./commands/submit.js";
import { registerWatch } from "./commands/watch.js";
import { url } from "./parse.js";
import { safeText } from "./text.js";
import { UsageError } from "./usage-error.js";

export const DEFAULT_URL = "http://127.0.0.1:8080";

function version(): string {
  // the same relative path from src/cli and dist/cli
  const pkg = createRequire(import.meta.url)("../../package.json") as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command("optiq")
    .description("optiq: run a job queue server (serve), or talk to one (every other command)")
    .version(version())
    .addOption(new Option("--url <url>", "the server's URL").env("OPTIQ_URL").default(DEFAULT_URL).argParser(url))
    .addOption(new Option("--token <token>", "bearer token (serve: the token clients must send)").env("OPTIQ_TOKEN"))
    .option("--json", "machine-readable output (JSON)")
    .showHelpAfterError("(run with --help for usage)")
    // inherited by every command registered below: usage errors come back to run() as exceptions
    .exitOverride();
  registerServe(program);
  registerSubmit(program);
  registerGet(program);
  registerList(program);
  registerCancel(program);
  registerStats(program);
  registerHealth(program);
  registerWatch(program);
  return program;
}

/**
 * Runs the command line; resolves with the exit code: 0, 1 for an error
 * (printed as `error OPTIQ_CODE: message`, or `error: message` for one of
 * the environment such as a port in use; its stack only with OPTIQ_DEBUG=1),
 * 2 for bad usage.
 */
export async function run(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    // commander has already printed its message (or the help, or the version)
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    // messages may come from the server or a job: no control character of theirs reaches the terminal
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${safeText(err.message)}\n`);
      return err.exitCode;
    }
    if (err instanceof OptiqError) {
      process.stderr.write(`error ${err.code}: ${safeText(err.message)}\n${debugStack(err)}`);
      return 1;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${safeText(message)}\n${debugStack(err)}`);
    return 1;
  }
}

/** The error's stack, for a bug report, when OPTIQ_DEBUG=1; otherwise nothing. */
function debugStack(err: unknown): string {
  if (process.env.OPTIQ_DEBUG !== "1" || !(err instanceof Error) || err.stack === undefined) return "";
  return `${err.stack}\n`;
}
