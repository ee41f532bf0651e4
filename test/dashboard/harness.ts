// The dashboard tests' real parts: a queue on the memory store, the HTTP server on port 0, and
// Debian's Chromium driven by playwright-core.
import { chromium, type Browser, type Page } from "playwright-core";
import { Optiq } from "../../src/index.js";
import type { OptiqOptions } from "../../src/options.js";
import { createServer } from "../../src/server/index.js";

export const CHROMIUM_PATH = "/usr/bin/chromium";

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export interface Stack {
  queue: Optiq;
  /** The server's base URL, without a trailing slash. */
  url: string;
  close(): Promise<void>;
}

/** A started queue behind a listening server. Handlers are defined by the caller before jobs are submitted. */
export async function startStack(
  options: { queue?: OptiqOptions; token?: string; define?: (queue: Optiq) => void } = {},
): Promise<Stack> {
  const queue = new Optiq({ concurrency: 4, ...options.queue });
  options.define?.(queue);
  await queue.start();
  const server = await createServer({
    queue,
    ...(options.token === undefined ? {} : { token: options.token }),
    statsIntervalMs: 200,
  });
  const url = (await server.listen({ port: 0, host: "127.0.0.1" })).replace(/\/$/, "");
  return {
    queue,
    url,
    async close() {
      await server.close();
      await queue.stop({ graceful: false });
    },
  };
}

/** Errors the page reports: console errors and uncaught exceptions. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
  return errors;
}

/** Opens the dashboard and waits until its event stream is live. */
export async function openDashboard(page: Page, stack: Stack, query = ""): Promise<void> {
  await page.goto(`${stack.url}/${query}`);
  await page.locator('[data-testid="connection"][data-state="live"]').waitFor();
}

/** Polls the DOM (in the page) until `selector` matches exactly `count` elements. */
export async function waitForCount(page: Page, selector: string, count: number): Promise<void> {
  await page.waitForFunction(`document.querySelectorAll(${JSON.stringify(selector)}).length === ${count}`);
}

/** The selector of a job's row, optionally in one state. */
export function rowOf(id: string, state?: string): string {
  return `tr[data-job-id="${id}"]${state === undefined ? "" : `[data-state="${state}"]`}`;
}

/** A promise that rejects with the signal's reason once it aborts. */
export function abortedBy(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason as Error);
    signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true });
  });
}
