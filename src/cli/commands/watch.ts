import type { Command } from "commander";
import { ConnectionError } from "../../client/index.js";
import { clientContext } from "../context.js";
import { WatchView } from "../watch-view.js";

export function registerWatch(program: Command): void {
  program
    .command("watch")
    .description("live view: a progress bar per running job and a totals line (plain lines when not a terminal)")
    .action(async (_flags: unknown, cmd: Command) => {
      const { client, json, url } = clientContext(cmd);
      const ac = new AbortController();
      const stop = (): void => ac.abort();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      const view = new WatchView(process.stdout, json);
      try {
        const stream = client.events(ac.signal);
        await stream.opened;
        // jobs already running when we connected; later events update or end them
        const running = await client.list({ state: "running", limit: 1000 });
        view.seed(running.jobs);
        for await (const e of stream) view.apply(e);
        if (!ac.signal.aborted) throw new ConnectionError(`the server at ${url} closed the event stream`, url);
      } finally {
        view.close();
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });
}
