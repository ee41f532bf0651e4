// The README's quick start. In your project the import is `from "optiq"`;
// here it points at the source so it runs without a build:
//   npx tsx examples/quick-start.ts
import { Optiq } from "../src/index.js";

const queue = new Optiq({ concurrency: 4 });

queue.define("square", async (job, ctx) => {
  ctx.progress(0.5);
  return (job.input as number) ** 2;
});

await queue.start();
const { id } = await queue.submit("square", 12, { priority: 5 });
console.log(await queue.result(id)); // 144
await queue.stop();
