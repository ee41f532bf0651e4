// Renders docs/dashboard.png: a busy queue (optimization jobs reporting progress, some retrying,
// failing or cancelled) behind the real server, shot in Chromium at 1280×800.
//
//   npx tsx scripts/screenshot-dashboard.ts [out.png]
import { setTimeout as sleep } from "node:timers/promises";
import { Optiq } from "../src/index.js";
import { createServer } from "../src/server/index.js";
import { launchBrowser } from "../test/dashboard/harness.js";

const out = process.argv[2] ?? "docs/dashboard.png";

const queue = new Optiq({ concurrency: 12 });
queue.define(
  "optimize-prompt",
  async (job, ctx) => {
    const { trials, stepMs, flaky } = job.input as { trials: number; stepMs: number; flaky: boolean };
    let best = 0.5;
    for (let trial = 1; trial <= trials; trial++) {
      await sleep(stepMs, undefined, { signal: ctx.signal });
      best = Math.min(0.99, best + Math.random() * 0.04);
      ctx.progress({ trial, trials, best: Math.round(best * 1000) / 1000 });
      if (trial % 5 === 0) ctx.checkpoint({ trial, best });
      if (flaky && job.attempt === 1 && trial === 3) throw new Error("upstream 429: rate limited, retry later");
    }
    return { best };
  },
  { maxAttempts: 2, backoff: { type: "fixed", delayMs: 500, jitter: false } },
);
queue.define("evaluate-batch", async (job, ctx) => {
  const { steps } = job.input as { steps: number };
  for (let i = 1; i <= steps; i++) {
    await sleep(120, undefined, { signal: ctx.signal });
    ctx.progress(i / steps);
  }
  if ((job.input as { bad?: boolean }).bad) throw new Error("dataset shard 7 is missing");
  return { accuracy: 0.87 };
});
await queue.start();

const server = await createServer({ queue, statsIntervalMs: 500 });
const url = await server.listen({ port: 0, host: "127.0.0.1" });

const groups = ["team-search", "team-ads", "team-support"];
await queue.submitMany(
  Array.from({ length: 40 }, (_, i) => ({
    name: "evaluate-batch",
    input: { steps: 4 + (i % 5), bad: i % 13 === 5 },
    options: { priority: i % 3, group: groups[i % 3]! },
  })),
);
await sleep(1500);
const long = await queue.submitMany(
  Array.from({ length: 160 }, (_, i) => ({
    name: "optimize-prompt",
    input: { trials: 30 + (i % 20), stepMs: 150 + (i % 7) * 40, flaky: i % 9 === 4 },
    options: { priority: i % 11 === 0 ? 10 : i % 4, group: groups[i % 3]! },
  })),
);
await sleep(1200);
for (const { id } of long.slice(-3)) await queue.cancel(id, { reason: "superseded by a newer run" });

const browser = await launchBrowser();
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(url);
  await page.locator('[data-testid="connection"][data-state="live"]').waitFor();
  // the running jobs, with their progress
  await page.locator('button.count[data-state="running"]').click();
  await sleep(3500);
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.close();
  await queue.stop({ graceful: false });
}
