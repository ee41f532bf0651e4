/**
 * `npm start`: the handlers module that `optiq serve` loads for the demo
 * (`optiq serve --db .optiq/optiq.db --handlers examples/serve-demo.ts`).
 *
 * It defines the demo's handlers (examples/lib/demo-jobs.ts) and, when the
 * store holds no job yet, submits the demo batch: 1000 optimization jobs with
 * priorities, a rate-limited group, flaky jobs whose first attempt fails and
 * is retried, a few misconfigured ones that fail for good, cancellations of
 * queued and of running jobs, and 4 sandboxed "tune" jobs. Open the dashboard
 * to watch them (starts are paced at 20 per second, so the batch runs for
 * about a minute); stop with Ctrl-C, and `npm start` again resumes what was
 * left.
 */
import type { Optiq, OptiqOptions } from "../src/index.js";
import {
  DEMO_OPTIONS,
  defineDemoHandlers,
  optimizeItems,
  toCancelWhileQueued,
  toCancelWhileRunning,
  tuneItems,
} from "./lib/demo-jobs.js";

/** Merged into the queue's options by `optiq serve`. */
export const options: Omit<OptiqOptions, "store"> = {
  ...DEMO_OPTIONS,
  // paced, so the dashboard shows the batch at work for about a minute rather than a few seconds
  rateLimit: { limit: 20, intervalMs: 1000 },
};

export default async function setup(queue: Optiq): Promise<void> {
  defineDemoHandlers(queue);
  const existing = await queue.list({ limit: 1 });
  if (existing.length > 0) return; // a restart: the store's jobs carry on where they were
  await submitDemoBatch(queue);
}

async function submitDemoBatch(queue: Optiq): Promise<void> {
  const submitted = await queue.submitMany(optimizeItems());
  const tunes = await queue.submitMany(tuneItems());
  for (const s of toCancelWhileQueued(submitted)) {
    await queue.cancel(s.id, { reason: "demo: cancelled while queued" });
  }
  const cancelWhileRunning = toCancelWhileRunning(
    submitted.map((s) => s.id),
    tunes.map((t) => t.id),
  );
  const off = queue.on("progress", (e) => {
    if (!cancelWhileRunning.delete(e.id)) return;
    void queue.cancel(e.id, { reason: "demo: cancelled while running" });
    if (cancelWhileRunning.size === 0) off();
  });
}
