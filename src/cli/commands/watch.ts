import type { Command } from "commander";
import { ConnectionError } from "../../client/index.js";
import { clientContext } from "../context.js";
import { WatchView } from "../watch-view.js";

const RECONCILE_MS = 5000;

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
        const running = await client.list({ state: "running", limit: 1000 }, { signal: ac.signal });
        view.seed(running.jobs);
        let lastCheck = Date.now();
        for await (const e of stream) {
          view.apply(e);
          // jobs that workers elsewhere run on a shared store send this server no events: every few
          // seconds, on a stats event, the server's list of running jobs settles what the view shows
          if (e.event === "stats" && Date.now() - lastCheck >= RECONCILE_MS) {
            const askedAt = (lastCheck = Date.now());
            const askedFor = view.runningIds();
            void client.list({ state: "running", limit: 1000 }, { signal: ac.signal }).then(
              (now) => view.reconcile(askedAt, askedFor, now.jobs),
              () => undefined, // the stream's own end reports a lost server
            );
          }
        }
        if (!ac.signal.aborted) throw new ConnectionError(`the server at ${url} closed the event stream`, url);
      } catch (err) {
        // Ctrl-C is how watch ends, connecting or not: what it interrupted is no error
        if (ac.signal.aborted) return;
        throw err;
      } finally {
        view.close();
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });
}
