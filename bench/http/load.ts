/**
 * The other side of bench/http/run.ts, in its own process so that the
 * client's work does not share the server's event loop: plain `node:http`
 * with a keep-alive agent (the lightest client, so the figures are the
 * server's). Driven over IPC: `{ kind: "submit" | "batch", url, n }` posts
 * jobs, 64 requests in flight; `{ kind: "streams", url, k }` opens k event
 * streams and counts their events until `{ kind: "close" }`.
 */
import http from "node:http";

const IN_FLIGHT = 64;
const BATCH = 100;
const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });

type Command =
  | { kind: "submit" | "batch"; url: string; n: number }
  | { kind: "streams"; url: string; k: number }
  | { kind: "close" };

function post(url: URL, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
      if (res.statusCode !== 201) reject(new Error(`HTTP ${res.statusCode}`));
      res.resume();
      res.on("end", resolve);
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function submit(url: string, n: number, batch: boolean): Promise<void> {
  const target = new URL(batch ? "/api/jobs/batch" : "/api/jobs", url);
  const one = JSON.stringify({ name: "noop", input: null });
  const many = JSON.stringify({ jobs: Array.from({ length: BATCH }, () => ({ name: "noop", input: null })) });
  const requests = batch ? Math.ceil(n / BATCH) : n;
  let next = 0;
  await Promise.all(
    Array.from({ length: batch ? 1 : IN_FLIGHT }, async () => {
      while (next < requests) {
        next++;
        await post(target, batch ? many : one);
      }
    }),
  );
}

const streams: { events: number; req: http.ClientRequest }[] = [];

function openStreams(url: string, k: number): Promise<void> {
  return Promise.all(
    Array.from(
      { length: k },
      () =>
        new Promise<void>((resolve, reject) => {
          const stream = {
            events: 0,
            req: http.get(new URL("/api/events", url), (res) => {
              res.setEncoding("utf8");
              // the last 6 characters carry over: a marker split between chunks is counted once
              let tail = "";
              res.on("data", (text: string) => {
                const seen = tail + text;
                for (let i = seen.indexOf("event: "); i !== -1; i = seen.indexOf("event: ", i + 7)) stream.events++;
                tail = seen.slice(-6);
              });
              resolve();
            }),
          };
          stream.req.on("error", (err) => (streams.includes(stream) ? undefined : reject(err)));
          streams.push(stream);
        }),
    ),
  ).then(() => undefined);
}

process.on("message", (command: Command) => {
  void (async () => {
    if (command.kind === "close") {
      const counts = streams.map((s) => s.events);
      for (const s of streams) s.req.destroy();
      process.send!({ done: true, counts });
      process.disconnect();
      return;
    }
    if (command.kind === "streams") await openStreams(command.url, command.k);
    else await submit(command.url, command.n, command.kind === "batch");
    process.send!({ done: true });
  })().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
});
process.send!({ ready: true });
