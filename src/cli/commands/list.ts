import { Option, type Command } from "commander";
import { JOB_STATES } from "../../core/states.js";
import type { JobState, ListFilter } from "../../client/index.js";
import { clientContext, print, printJson } from "../context.js";
import { formatTime, progressCell, table } from "../format.js";
import { positive } from "../parse.js";
import { oneLine } from "../text.js";

interface ListFlags {
  state?: JobState;
  name?: string;
  group?: string;
  limit?: number;
  before?: string;
}

export function registerList(program: Command): void {
  program
    .command("list")
    .description("list jobs, newest first")
    .addOption(new Option("--state <state>", "only jobs in this state").choices(JOB_STATES))
    .option("--name <name>", "only jobs of this name")
    .option("--group <group>", "only jobs of this group")
    .option("--limit <n>", "jobs per page, 1-1000", positive, 50)
    .option("--before <id>", "the page after this id (the `next` a previous page printed)")
    .action(async (flags: ListFlags, cmd: Command) => {
      const { client, json } = clientContext(cmd);
      const filter: ListFilter = {};
      if (flags.state !== undefined) filter.state = flags.state;
      if (flags.name !== undefined) filter.name = flags.name;
      if (flags.group !== undefined) filter.group = flags.group;
      if (flags.limit !== undefined) filter.limit = flags.limit;
      if (flags.before !== undefined) filter.beforeId = flags.before;
      const page = await client.list(filter);
      if (json) {
        printJson(page);
        return;
      }
      if (page.jobs.length === 0) {
        print("no jobs");
        return;
      }
      const rows = page.jobs.map((j) => [
        j.id,
        j.name,
        j.state,
        String(j.priority),
        `${j.attempt}/${j.maxAttempts}`,
        j.state === "running" ? progressCell(j.progress) : "",
        j.group ?? "",
        formatTime(j.createdAt),
      ]);
      for (const line of table(["ID", "NAME", "STATE", "PRI", "ATTEMPT", "PROGRESS", "GROUP", "CREATED"], rows)) {
        print(line);
      }
      if (page.next !== null) {
        // the next page of the same list: the same filters
        const again: string[] = [];
        if (flags.state !== undefined) again.push("--state", flags.state);
        if (flags.name !== undefined) again.push("--name", flags.name);
        if (flags.group !== undefined) again.push("--group", flags.group);
        if (flags.limit !== undefined && cmd.getOptionValueSource("limit") !== "default") {
          again.push("--limit", String(flags.limit));
        }
        again.push("--before", page.next);
        print(`more: optiq list ${again.map(shellWord).join(" ")}`);
      }
    });
}

/** A word as a POSIX shell reads it back: as it is when plain, else single-quoted. */
function shellWord(word: string): string {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${oneLine(word).replace(/'/g, "'\\''")}'`;
}
