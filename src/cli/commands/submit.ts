import type { Command } from "commander";
import type { HttpSubmitOptions } from "../../client/index.js";
import { clientContext, print, printJson } from "../context.js";
import { integer, jsonInput, nonNegative, positive } from "../parse.js";
import { waitWithProgress } from "../wait.js";

interface SubmitFlags {
  priority?: number;
  delay?: number;
  key?: string;
  group?: string;
  maxAttempts?: number;
  timeout?: number;
  wait?: boolean;
}

export function registerSubmit(program: Command): void {
  program
    .command("submit")
    .description("submit a job; prints its id (with --wait: follows its progress, then prints its result)")
    .argument("<name>", "the job name")
    .argument("[input-json]", "the job's input, as JSON (e.g. '{\"n\": 3}')", jsonInput)
    .option("--priority <n>", "higher runs first", integer)
    .option("--delay <ms>", "run no sooner than this many ms from now", nonNegative)
    .option("--key <key>", "idempotency key: the same key returns the existing job")
    .option("--group <group>", "group whose concurrency and rate limits apply")
    .option("--max-attempts <n>", "attempts before the job fails", positive)
    .option("--timeout <ms>", "per-attempt timeout", positive)
    .option("--wait", "show the job's progress until it ends, then print its result")
    .action(async (name: string, input: unknown, flags: SubmitFlags, cmd: Command) => {
      const { client, json } = clientContext(cmd);
      const options: HttpSubmitOptions = {};
      if (flags.priority !== undefined) options.priority = flags.priority;
      if (flags.delay !== undefined) options.delayMs = flags.delay;
      if (flags.key !== undefined) options.key = flags.key;
      if (flags.group !== undefined) options.group = flags.group;
      if (flags.maxAttempts !== undefined) options.maxAttempts = flags.maxAttempts;
      if (flags.timeout !== undefined) options.timeoutMs = flags.timeout;
      if (!flags.wait) {
        const submitted = await client.submit(name, input, options);
        if (json) printJson(submitted);
        else print(submitted.id);
        return;
      }
      const outcome = await waitWithProgress(client, (signal) => client.submit(name, input, options, { signal }), {
        onSubmitted: (s) => {
          if (!json) print(s.id);
        },
      });
      if (json) printJson({ ...outcome.submitted, result: outcome.result });
      else print(JSON.stringify(outcome.result, null, 2) ?? "undefined");
    });
}
