// A queue behind the HTTP server, used through the typed client. In your project the imports are
// `from "optiq"`, `"optiq/server"` and `"optiq/client"`; here they point at the source:
//   npx tsx examples/server-and-client.ts
import { OptiqClient } from "../src/client/index.js";
import { JobFailedError, NonRetryableError, Optiq } from "../src/index.js";
import { createServer } from "../src/server/index.js";

const queue = new Optiq({ concurrency: 4 });
queue.define("score", async (job, ctx) => {
  const { prompt } = job.input as { prompt: string };
  if (prompt.length === 0) throw new NonRetryableError("empty prompt");
  ctx.progress({ fraction: 0.5 });
  return { prompt, score: prompt.length / 100 };
});
await queue.start();
const server = await createServer({ queue });
const url = await server.listen({ port: 0, host: "127.0.0.1" });
console.log(`serving ${url} (dashboard at ${url}/)`);

const client = new OptiqClient({ url });
const { id } = await client.submit("score", { prompt: "rank these answers" }, { priority: 5 });
console.log("result:", await client.result(id, { timeoutMs: 10_000 }));

// a failed job comes back as the same error class the queue throws
const bad = await client.submit("score", { prompt: "" });
try {
  await client.result(bad.id);
} catch (err) {
  if (err instanceof JobFailedError) console.log(`job ${bad.id} failed after ${err.attempts} attempt(s)`);
}
console.log("completed so far:", (await client.stats()).counts.completed);

await server.close();
await queue.stop();
