import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NonRetryableError, Optiq } from "../../src/index.js";
import { SqliteStore } from "../../src/sqlite.js";
import { createServer } from "../../src/server/index.js";
import { deferred, once } from "../support/helpers.js";
import {
  abortedBy,
  collectPageErrors,
  launchBrowser,
  openDashboard,
  rowOf,
  startStack,
  waitForCount,
  type Stack,
} from "./harness.js";

const JOB_ROWS = 'tr[data-testid="job-row"]';

let browser: Browser;
let context: BrowserContext;
let page: Page;
let stack: Stack | null = null;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
});

afterEach(async () => {
  await context.close();
  await stack?.close();
  stack = null;
});

describe("dashboard", () => {
  it("loads without console errors and shows the counts of stats()", async () => {
    const hold = deferred();
    stack = await startStack({
      define(q) {
        q.define("quick", async (job) => job.input);
        q.define("hold", () => hold.promise);
        q.define("broken", () => {
          throw new NonRetryableError("bad input");
        });
      },
    });
    const { queue } = stack;
    const quick = await Promise.all([1, 2, 3].map((n) => queue.submit("quick", n)));
    await Promise.all(quick.map(({ id }) => queue.result(id)));
    const broken = await queue.submit("broken", null);
    await expect(queue.result(broken.id)).rejects.toThrow();
    await queue.submit("quick", 4, { delayMs: 60_000 });
    await queue.submit("quick", 5, { delayMs: 60_000 });
    const held = await queue.submit("hold", null);
    await queue.result(held.id, { timeoutMs: 50 }).catch(() => undefined); // it has started by now or soon

    const errors = collectPageErrors(page);
    await openDashboard(page, stack);
    await page.locator(`${rowOf(held.id, "running")}`).waitFor();
    const stats = await queue.stats();
    expect(stats.counts).toEqual({ queued: 2, running: 1, completed: 3, failed: 1, cancelled: 0 });
    for (const [state, n] of Object.entries(stats.counts)) {
      await page.locator(`[data-testid="count-${state}"]:text-is("${n}")`).waitFor();
    }
    await page.locator('[data-testid="total-submitted"]:text-is("7")').waitFor();
    await page.locator('[data-testid="stat-capacity"]:text-is("4")').waitFor();
    await page.locator('[data-testid="health-status"]:text-is("healthy")').waitFor();
    await waitForCount(page, JOB_ROWS, 7);
    expect(await page.locator(`${rowOf(held.id)} td.name`).textContent()).toBe("hold");
    expect(await page.getByRole("button", { name: `Cancel job ${held.id}` }).isEnabled()).toBe(true);
    hold.resolve();
    await page.locator(rowOf(held.id, "completed")).waitFor();
    expect(errors).toEqual([]);
  });

  it("adds jobs submitted after load from the event stream, one or many at a time", async () => {
    stack = await startStack({ define: (q) => q.define("later", async () => "ok") });
    const errors = collectPageErrors(page);
    await openDashboard(page, stack);
    await page.getByTestId("jobs-empty").waitFor();

    const one = await stack.queue.submit("later", { n: 1 }, { delayMs: 60_000, priority: 7, group: "team-a" });
    const row = page.locator(rowOf(one.id, "queued"));
    await row.waitFor();
    expect(await row.locator("td.name").textContent()).toBe("later");
    expect(await row.locator("td.group").textContent()).toBe("team-a");
    expect(await row.locator("td.num").first().textContent()).toBe("7");

    // a burst: more than the dashboard fetches one by one, so it re-reads the first page instead
    const burst = await stack.queue.submitMany(
      Array.from({ length: 30 }, (_, i) => ({ name: "later", input: i, options: { delayMs: 60_000 } })),
    );
    await waitForCount(page, JOB_ROWS, 31);
    await page.locator(rowOf(burst.at(-1)!.id)).waitFor();
    // the newest job is the first row
    expect(await page.locator(JOB_ROWS).first().getAttribute("data-job-id")).toBe(burst.at(-1)!.id);
    await page.locator('[data-testid="count-queued"]:text-is("31")').waitFor();
    expect(errors).toEqual([]);
  });

  it("moves a running job's progress bar when its handler reports progress", async () => {
    const step = [deferred(), deferred(), deferred()];
    stack = await startStack({
      define(q) {
        q.define("train", async (_job, ctx) => {
          await step[0]!.promise;
          ctx.progress(0.5);
          await step[1]!.promise;
          ctx.progress({ trial: 3, trials: 4, best: 0.91 });
          await step[2]!.promise;
          return { best: 0.93 };
        });
      },
    });
    await openDashboard(page, stack);
    const { id } = await stack.queue.submit("train", { trials: 4 });
    const bar = page.locator(`${rowOf(id, "running")} [role="progressbar"]`);
    await page.locator(rowOf(id, "running")).waitFor();
    expect(await bar.getAttribute("aria-valuenow")).toBeNull();

    step[0]!.resolve();
    await page.locator(`${rowOf(id)} [role="progressbar"][aria-valuenow="50"]`).waitFor();
    expect(await page.locator(`${rowOf(id)} .progress-text`).textContent()).toBe("50%");

    step[1]!.resolve();
    await page.locator(`${rowOf(id)} [role="progressbar"][aria-valuenow="75"]`).waitFor();
    expect(await page.locator(`${rowOf(id)} .progress-text`).textContent()).toBe("3/4 (75%) · best 0.91");

    step[2]!.resolve();
    await page.locator(rowOf(id, "completed")).waitFor();
  });

  it("cancels a running job from its row: the handler's signal aborts and the row shows cancelled", async () => {
    const started = deferred<string>();
    const abortReason = deferred<unknown>();
    stack = await startStack({
      define(q) {
        q.define("long", async (job, ctx) => {
          started.resolve(job.id);
          try {
            return await abortedBy(ctx.signal);
          } finally {
            abortReason.resolve(ctx.signal.reason);
          }
        });
      },
    });
    const { id } = await stack.queue.submit("long", null);
    expect(await started.promise).toBe(id);
    await openDashboard(page, stack);
    await page.locator(rowOf(id, "running")).waitFor();

    await page.getByRole("button", { name: `Cancel job ${id}` }).click();
    const reason = (await abortReason.promise) as { code?: string };
    expect(reason.code).toBe("OPTIQ_JOB_CANCELLED");
    await page.locator(rowOf(id, "cancelled")).waitFor();
    expect((await stack.queue.get(id))?.state).toBe("cancelled");
    expect(await page.getByRole("button", { name: `Cancel job ${id}` }).isHidden()).toBe(true);
  });

  it("shows a failed job's error and every attempt's error in its detail panel", async () => {
    stack = await startStack({
      define(q) {
        q.define(
          "flaky",
          (job) => {
            throw new Error(`upstream 503 on attempt ${job.attempt}`);
          },
          { maxAttempts: 2, backoff: { type: "fixed", delayMs: 1, jitter: false } },
        );
      },
    });
    const { id } = await stack.queue.submit("flaky", { prompt: "rank these" });
    await expect(stack.queue.result(id)).rejects.toThrow();
    await openDashboard(page, stack);
    await page.locator(rowOf(id, "failed")).click();

    const detail = page.getByTestId("job-detail");
    await detail.getByTestId("detail-error").waitFor();
    expect(await detail.getByTestId("detail-state").textContent()).toBe("failed");
    expect(await detail.getByTestId("detail-error").textContent()).toContain("upstream 503 on attempt 2");
    const attempts = detail.getByTestId("detail-attempts").locator("li");
    expect(await attempts.count()).toBe(2);
    expect(await attempts.nth(0).textContent()).toContain("upstream 503 on attempt 1");
    expect(await attempts.nth(1).textContent()).toContain("upstream 503 on attempt 2");
    expect(await detail.getByTestId("detail-input").textContent()).toContain('"prompt": "rank these"');
    expect(await detail.getByTestId("detail-checkpoint").textContent()).toContain("none");

    await page.getByRole("button", { name: "Close details" }).click();
    await detail.waitFor({ state: "hidden" });
  });

  it("keeps up with thousands of events a second without a request storm", async () => {
    const JOBS = 3000;
    stack = await startStack({
      queue: { concurrency: 100 },
      define(q) {
        q.define("swarm", async (_job, ctx) => {
          for (let i = 1; i <= 4; i++) {
            await new Promise((resolve) => setTimeout(resolve, 2));
            ctx.progress(i / 4);
          }
          return null;
        });
      },
    });
    const errors = collectPageErrors(page);
    await openDashboard(page, stack);
    const jobRequests: string[] = [];
    page.on("request", (request) => {
      if (new URL(request.url()).pathname.startsWith("/api/jobs")) jobRequests.push(request.url());
    });
    let events = 0;
    const offs = (["submitted", "started", "progress", "completed"] as const).map((name) =>
      stack!.queue.on(name, () => events++),
    );
    const started = Date.now();
    // waves of 500, each run to the end, so the page sees several seconds of traffic
    for (let i = 0; i < JOBS; i += 500) {
      const drained = once(stack.queue, "drained");
      await stack.queue.submitMany(Array.from({ length: 500 }, (_, j) => ({ name: "swarm", input: i + j })));
      await drained;
    }
    await page.locator(`[data-testid="count-completed"]:text-is("${JOBS.toLocaleString("en-US")}")`).waitFor();
    const seconds = (Date.now() - started) / 1000;
    for (const off of offs) off();
    // the table settles with at least the newest page, every row completed (re-reads of the first
    // page merge, so rows from earlier reads may stay below it)
    await page.waitForFunction(
      `(() => { const rows = [...document.querySelectorAll(${JSON.stringify(JOB_ROWS)})];` +
        ` return rows.length >= 50 && rows.every((row) => row.getAttribute("data-state") === "completed"); })()`,
    );
    expect(events).toBe(JOBS * 7);
    // renders are coalesced to 4 a second, each with at most one list request or a few job reads
    expect(jobRequests.length).toBeLessThan(12 * Math.ceil(seconds * 4) + 10);
    expect(jobRequests.length).toBeLessThan(JOBS / 20);
    expect(errors).toEqual([]);
  });

  it("filters by state and by name", async () => {
    stack = await startStack({
      define(q) {
        q.define("ok", async () => 1);
        q.define("no", () => {
          throw new NonRetryableError("no");
        });
      },
    });
    const { queue } = stack;
    const done = await Promise.all([queue.submit("ok", 1), queue.submit("ok", 2)]);
    await Promise.all(done.map(({ id }) => queue.result(id)));
    const failed = await queue.submit("no", null);
    await expect(queue.result(failed.id)).rejects.toThrow();
    await queue.submit("ok", 3, { delayMs: 60_000 });
    await queue.submit("no", 4, { delayMs: 60_000 });
    await openDashboard(page, stack);
    await waitForCount(page, JOB_ROWS, 5);

    await page.getByTestId("state-filter").selectOption("failed");
    await waitForCount(page, JOB_ROWS, 1);
    await page.locator(rowOf(failed.id, "failed")).waitFor();

    await page.getByTestId("state-filter").selectOption("queued");
    await waitForCount(page, `${JOB_ROWS}[data-state="queued"]`, 2);
    await waitForCount(page, JOB_ROWS, 2);

    await page.getByTestId("state-filter").selectOption("");
    await page.getByTestId("name-filter").fill("ok");
    await page.getByTestId("name-filter").press("Enter");
    await waitForCount(page, JOB_ROWS, 3);
    expect(await page.locator(`${JOB_ROWS} td.name`).allTextContents()).toEqual(["ok", "ok", "ok"]);

    // a live job outside the filter stays out; one inside comes in
    const other = await queue.submit("no", 5, { delayMs: 60_000 });
    const inside = await queue.submit("ok", 6, { delayMs: 60_000 });
    await page.locator(rowOf(inside.id)).waitFor();
    expect(await page.locator(rowOf(other.id)).count()).toBe(0);
  });

  it("pages to older jobs with the list's next cursor", async () => {
    stack = await startStack({ define: (q) => q.define("batch", async () => null) });
    const jobs = await stack.queue.submitMany(
      Array.from({ length: 62 }, (_, i) => ({ name: "batch", input: i, options: { delayMs: 60_000 } })),
    );
    await openDashboard(page, stack);
    await waitForCount(page, JOB_ROWS, 50);
    expect(await page.locator(rowOf(jobs[0]!.id)).count()).toBe(0);

    await page.getByRole("button", { name: "Older jobs" }).click();
    await waitForCount(page, JOB_ROWS, 62);
    await page.locator(rowOf(jobs[0]!.id)).waitFor();
    expect(await page.locator(JOB_ROWS).last().getAttribute("data-job-id")).toBe(jobs[0]!.id);
    await page.getByTestId("older").waitFor({ state: "hidden" });
  });

  it("keeps rows loaded with Older jobs when a change in the counts re-reads the first page", async () => {
    stack = await startStack({
      define(q) {
        q.define("batch", async () => null);
        q.define("quick", async () => "done");
      },
    });
    const jobs = await stack.queue.submitMany(
      Array.from({ length: 120 }, (_, i) => ({ name: "batch", input: i, options: { delayMs: 60_000 } })),
    );
    // every first page the dashboard reads, recorded once the app has applied it: a task after the
    // microtasks that carry the body from response.json() into the table
    await page.addInitScript(`
      window.heads = [];
      const json = Response.prototype.json;
      Response.prototype.json = async function () {
        const body = await json.call(this);
        const url = new URL(this.url);
        if (url.pathname === "/api/jobs" && !url.searchParams.has("beforeId")) setTimeout(() => window.heads.push(body));
        return body;
      };
    `);
    const errors = collectPageErrors(page);
    await openDashboard(page, stack);
    await waitForCount(page, JOB_ROWS, 50);
    await page.getByRole("button", { name: "Older jobs" }).click();
    await waitForCount(page, JOB_ROWS, 100);

    // the job's submission, start and completion each change the counts: each stats event with new
    // counts re-reads the first page
    const other = await stack.queue.submit("quick", null);
    await stack.queue.result(other.id);
    await page.locator(rowOf(other.id, "completed")).waitFor();
    await page.waitForFunction(
      `window.heads.some((head) => head.jobs.some((job) => job.id === ${JSON.stringify(other.id)} && job.state === "completed"))`,
    );
    // the first page merged in: the older rows are still there, below the new job
    expect(await page.locator(JOB_ROWS).count()).toBe(101);
    expect(await page.locator(JOB_ROWS).first().getAttribute("data-job-id")).toBe(other.id);
    expect(await page.locator(JOB_ROWS).last().getAttribute("data-job-id")).toBe(jobs[20]!.id);

    // and "Older jobs" goes on below them: no gap, no duplicates
    await page.getByRole("button", { name: "Older jobs" }).click();
    await waitForCount(page, JOB_ROWS, 121);
    const ids = await page.locator(JOB_ROWS).evaluateAll((rows) => rows.map((row) => row.getAttribute("data-job-id")));
    expect(ids).toEqual([other.id, ...jobs.map((job) => job.id).reverse()]);
    await page.getByTestId("older").waitFor({ state: "hidden" });
    expect(errors).toEqual([]);
  });

  it("starts over from the first page when more new jobs than a page arrive at once", async () => {
    stack = await startStack({ define: (q) => q.define("batch", async () => null) });
    const first = await stack.queue.submitMany(
      Array.from({ length: 120 }, (_, i) => ({ name: "batch", input: i, options: { delayMs: 60_000 } })),
    );
    await openDashboard(page, stack);
    await waitForCount(page, JOB_ROWS, 50);
    await page.getByRole("button", { name: "Older jobs" }).click();
    await waitForCount(page, JOB_ROWS, 100);

    // 70 new jobs: the fresh first page holds 50 of them, so 20 lie between it and the rows held
    const burst = await stack.queue.submitMany(
      Array.from({ length: 70 }, (_, i) => ({ name: "batch", input: i, options: { delayMs: 60_000 } })),
    );
    await page.locator(rowOf(burst.at(-1)!.id)).waitFor();
    await waitForCount(page, JOB_ROWS, 50);
    // "Older jobs" then continues right below the first page: the rest of the burst comes next
    await page.getByRole("button", { name: "Older jobs" }).click();
    await waitForCount(page, JOB_ROWS, 100);
    const ids = await page.locator(JOB_ROWS).evaluateAll((rows) => rows.map((row) => row.getAttribute("data-job-id")));
    expect(ids).toEqual([...first.slice(90), ...burst].map((job) => job.id).reverse());
  });

  it("renders job data as text: markup in a name or input creates no element and runs nothing", async () => {
    const evil = `<img src=x onerror="alert('name')">`;
    stack = await startStack({ define: (q) => q.define(evil, async () => `<img src=y onerror="alert('result')">`) });
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const errors = collectPageErrors(page);
    const before = await stack.queue.submit(evil, { note: `<img src=z onerror="alert('input')">` });
    await stack.queue.result(before.id);
    await openDashboard(page, stack);
    await page.locator(rowOf(before.id, "completed")).waitFor();
    const after = await stack.queue.submit(evil, `<script>alert('live')</script>`, { group: "<b>g</b>" });
    await page.locator(rowOf(after.id, "completed")).waitFor();

    expect(await page.locator(`${rowOf(before.id)} td.name`).textContent()).toBe(evil);
    expect(await page.locator(`${rowOf(after.id)} td.group`).textContent()).toBe("<b>g</b>");
    await page.locator(rowOf(before.id)).click();
    const detail = page.getByTestId("job-detail");
    await detail.getByTestId("detail-result").waitFor();
    expect(await detail.getByTestId("detail-input").textContent()).toContain(`onerror=\\"alert('input')\\"`);
    expect(await detail.getByTestId("detail-result").textContent()).toContain("onerror");

    expect(await page.locator("img, script:not([type=module]), b").count()).toBe(0);
    expect(dialogs).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("sends the page's ?token= to the API and the event stream, and shows an auth error without it", async () => {
    stack = await startStack({ token: "s3cret-token", define: (q) => q.define("t", async () => 1) });
    const { id } = await stack.queue.submit("t", null, { delayMs: 60_000 });
    await openDashboard(page, stack, "?token=s3cret-token");
    await page.locator(rowOf(id)).waitFor();
    await page.locator('[data-testid="count-queued"]:text-is("1")').waitFor();
    const live = await stack.queue.submit("t", null, { delayMs: 60_000 });
    await page.locator(rowOf(live.id)).waitFor();
    expect(await page.getByTestId("error-banner").isHidden()).toBe(true);

    const anonymous = await context.newPage();
    await anonymous.goto(`${stack.url}/`);
    const banner = anonymous.getByTestId("error-banner");
    await anonymous.locator('[data-testid="error-banner"][data-kind="auth"]').waitFor();
    expect(await banner.textContent()).toContain("?token=");
    await anonymous.locator('[data-testid="connection"][data-state="unauthorized"]').waitFor();
    expect(await anonymous.locator(JOB_ROWS).count()).toBe(0);

    const wrong = await context.newPage();
    await wrong.goto(`${stack.url}/?token=nope`);
    await wrong.locator('[data-testid="error-banner"][data-kind="auth"]').waitFor();
    expect(await wrong.getByTestId("error-banner").textContent()).toContain("refused the token");
  });

  it("shows the stream reconnecting while the server is away, then catches up on what it missed", async () => {
    const queue = new Optiq({ concurrency: 2 });
    queue.define("r", async () => 1);
    await queue.start();
    let server = await createServer({ queue, statsIntervalMs: 200 });
    const url = await server.listen({ port: 0, host: "127.0.0.1" });
    const port = Number(new URL(url).port);
    stack = {
      queue,
      url,
      close: async () => {
        await server.close();
        await queue.stop({ graceful: false });
      },
    };
    await openDashboard(page, stack);

    await server.close();
    await page.locator('[data-testid="connection"]:is([data-state="reconnecting"], [data-state="offline"])').waitFor();
    const missed = await queue.submit("r", null, { delayMs: 60_000 });
    server = await createServer({ queue, statsIntervalMs: 200 });
    await server.listen({ port, host: "127.0.0.1" });
    await page.locator('[data-testid="connection"][data-state="live"]').waitFor({ timeout: 15_000 });
    await page.locator(rowOf(missed.id, "queued")).waitFor();
  });

  it("shows degraded health with the stuck job named and its age", async () => {
    stack = await startStack({
      queue: { stuckAfterMs: 100 },
      define: (q) => q.define("silent", (_job, ctx) => abortedBy(ctx.signal)),
    });
    const { id } = await stack.queue.submit("silent", null);
    for (let i = 0; i < 200 && (await stack.queue.health()).status === "healthy"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await openDashboard(page, stack);
    await page.locator('[data-testid="health-status"]:text-is("degraded")').waitFor();
    const issue = page.getByTestId("health-issues").locator("li").first();
    await issue.waitFor();
    const text = (await issue.textContent()) ?? "";
    expect(text).toContain(`job ${id} (silent)`);
    expect(text).toMatch(/no progress for \d/);
    expect(text).toContain("stuck");
  });
  it("follows jobs that a worker elsewhere runs on a shared store, which send this server no events", async () => {
    const dir = mkdtempSync(join(tmpdir(), "optiq-dashboard-"));
    const path = join(dir, "queue.db");
    const report = deferred();
    const release = deferred();
    const worker = new Optiq({ store: new SqliteStore({ path }) });
    worker.define("remote", async (_job, ctx) => {
      await report.promise;
      ctx.progress(0.5);
      await release.promise;
      return "done elsewhere";
    });
    try {
      // the served queue only submits: "remote" runs in the other queue
      stack = await startStack({ queue: { store: new SqliteStore({ path }) }, define: (q) => q.declare("remote") });
      await openDashboard(page, stack);
      const { id } = await stack.queue.submit("remote", null);
      await page.locator(rowOf(id, "queued")).waitFor();
      const started = once(worker, "started");
      await worker.start();
      await started;
      await page.locator(rowOf(id, "running")).waitFor();
      // progress changes no count: the page re-reads the running rows every few stats events
      report.resolve();
      await page.locator(`${rowOf(id, "running")} [role="progressbar"][aria-valuenow="50"]`).waitFor();
      release.resolve();
      await page.locator(rowOf(id, "completed")).waitFor();
    } finally {
      await stack?.close();
      stack = null;
      await worker.stop({ graceful: false });
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
