/**
 * The `optiq` client commands, run as real child processes against a real
 * server in this process: their output (human and --json), exit codes and
 * error lines.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OptiqClient } from "../../src/client/index.js";
import { NonRetryableError, Optiq } from "../../src/index.js";
import { FakeClock } from "../../src/testing.js";
import { deferred, serve, type Deferred, type Served } from "../client/support.js";
import { runCli, spawnCli } from "./run-cli.js";

let served: Served;
let client: OptiqClient;
let env: Record<string, string>;
let stepsGate: Deferred<void> = deferred();

/**
 * A real server whose requests matching `stall` hang until the test ends
 * (a server slow to answer), telling when one arrives; it counts submits.
 */
async function stallingServer(stall: (method: string, url: string) => boolean) {
  const reached = deferred<void>();
  const release = deferred<void>();
  let submits = 0;
  const queue = new Optiq();
  queue.define("echo", async (job) => ({ echoed: job.input }));
  const stalling = await serve(queue, { closeGraceMs: 100 }, (server) => {
    server.addHook("onRequest", async (req) => {
      if (req.method === "POST" && req.url === "/api/jobs") submits++;
      if (stall(req.method, req.url)) {
        reached.resolve();
        await release.promise;
      }
    });
  });
  return {
    env: { OPTIQ_URL: stalling.url },
    reached: reached.promise,
    submits: () => submits,
    close: async () => {
      release.resolve();
      await stalling.close();
    },
  };
}

beforeAll(async () => {
  const queue = new Optiq();
  queue.define("echo", async (job) => ({ echoed: job.input }));
  queue.define("steps", async (_job, ctx) => {
    ctx.progress({ done: 1, total: 2 });
    await stepsGate.promise;
    return { steps: 2 };
  });
  queue.define("fail", async () => {
    throw new NonRetryableError("fails on purpose");
  });
  served = await serve(queue);
  client = new OptiqClient({ url: served.url });
  env = { OPTIQ_URL: served.url };
});

afterAll(async () => {
  await served?.close();
});

describe("optiq submit / get / list / cancel / stats", () => {
  it("submit prints the new job's id; get shows the job", async () => {
    const submit = await runCli(["submit", "echo", '{"n":1}', "--priority", "4"], env);
    expect(submit).toMatchObject({ code: 0, stderr: "" });
    const id = submit.stdout.trim();
    expect(id).toMatch(/^\d+$/);
    expect(await client.result(id)).toEqual({ echoed: { n: 1 } });
    const get = await runCli(["get", id], env);
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(new RegExp(`^id\\s+${id}$`, "m"));
    expect(get.stdout).toMatch(/^state\s+completed$/m);
    expect(get.stdout).toMatch(/^priority\s+4$/m);
    expect(get.stdout).toContain('{"echoed":{"n":1}}');
  });

  it("--json output parses, before or after the command", async () => {
    const submit = await runCli(["--json", "submit", "echo", "[1,2]", "--key", "json-key"], env);
    expect(submit.code).toBe(0);
    const submitted = JSON.parse(submit.stdout) as { id: string; created: boolean };
    expect(submitted).toEqual({ id: expect.any(String), created: true });
    const again = await runCli(["submit", "echo", "[1,2]", "--key", "json-key", "--json"], env);
    expect(JSON.parse(again.stdout)).toEqual({ id: submitted.id, created: false });
    await client.result(submitted.id);
    const get = await runCli(["get", submitted.id, "--json"], env);
    expect(JSON.parse(get.stdout)).toMatchObject({ id: submitted.id, state: "completed", result: { echoed: [1, 2] } });
  });

  it("list prints a table, and --json the page", async () => {
    const { id } = await client.submit("echo", "listed", { delayMs: 3_600_000, group: "later" });
    const list = await runCli(["list", "--state", "queued", "--name", "echo"], env);
    expect(list.code).toBe(0);
    const [header, ...rows] = list.stdout.trim().split("\n");
    expect(header).toMatch(/^ID\s+NAME\s+STATE\s+PRI\s+ATTEMPT\s+PROGRESS\s+GROUP\s+CREATED$/);
    expect(rows.some((r) => new RegExp(`^${id}\\s+echo\\s+queued\\s+0\\s+0/3\\s+later\\s`).test(r))).toBe(true);
    const json = await runCli(["list", "--limit", "1", "--json"], env);
    const page = JSON.parse(json.stdout) as { jobs: { id: string }[]; next: string | null };
    expect(page.jobs).toHaveLength(1);
    expect(page.next).not.toBeNull();
  });

  it("list's hint for the next page keeps the filters", async () => {
    await client.submit("echo", 1, { delayMs: 3_600_000, group: "hint group" });
    await client.submit("echo", 2, { delayMs: 3_600_000, group: "hint group" });
    const list = await runCli(
      ["list", "--state", "queued", "--name", "echo", "--group", "hint group", "--limit", "1"],
      env,
    );
    expect(list.code).toBe(0);
    const [, hint] = list.stdout.match(/^more: (optiq list .*)$/m) ?? [];
    expect(hint).toMatch(/^optiq list --state queued --name echo --group 'hint group' --limit 1 --before \d+$/);
    // the hint, run as it reads, gives the next page of the same list
    const next = await runCli(
      [
        "list",
        "--state",
        "queued",
        "--name",
        "echo",
        "--group",
        "hint group",
        "--limit",
        "1",
        "--before",
        hint!.split(" ").at(-1)!,
        "--json",
      ],
      env,
    );
    const page = JSON.parse(next.stdout) as { jobs: { group: string; state: string }[] };
    expect(page.jobs).toEqual([expect.objectContaining({ group: "hint group", state: "queued" })]);
  });

  it("cancel cancels a queued job; a second cancel has nothing to do", async () => {
    const { id } = await client.submit("echo", null, { delayMs: 3_600_000 });
    const cancel = await runCli(["cancel", id, "--reason", "changed my mind"], env);
    expect(cancel).toMatchObject({ code: 0, stdout: `cancelling job ${id}\n` });
    expect(await client.get(id)).toMatchObject({ state: "cancelled", cancelReason: "changed my mind" });
    const again = await runCli(["cancel", id, "--json"], env);
    expect(JSON.parse(again.stdout)).toEqual({ id, cancelled: false });
  });

  it("stats prints the totals, and --json the Stats object", async () => {
    const human = await runCli(["stats"], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^running \d+\/10 · queued \d+ · completed \d+/);
    expect(human.stdout).toMatch(/^queue wait\s+p50 /m);
    const json = await runCli(["stats", "--json"], env);
    expect(JSON.parse(json.stdout)).toMatchObject({
      capacity: 10,
      counts: expect.any(Object),
      totals: expect.any(Object),
    });
  });
});

describe("optiq submit --wait", () => {
  it("draws the job's progress from the event stream, then prints the result", async () => {
    stepsGate = deferred();
    const cli = spawnCli(["submit", "steps", "--wait"], env);
    const [, id] = (await cli.waitFor("stdout", /^(\d+)\n/))!;
    // the handler reported { done: 1, total: 2 } and now waits for the gate
    await cli.waitFor("stderr", new RegExp(`50%\\s+job ${id} running.*1/2`));
    stepsGate.resolve();
    expect((await cli.exited).code).toBe(0);
    expect(cli.stdout()).toBe(`${id}\n${JSON.stringify({ steps: 2 }, null, 2)}\n`);
    expect(cli.stderr()).toMatch(new RegExp(`job ${id} completed`));
  });

  it("with --json prints one object: the id and the result", async () => {
    const wait = await runCli(["submit", "echo", '"x"', "--wait", "--json"], env);
    expect(wait.code).toBe(0);
    expect(JSON.parse(wait.stdout)).toEqual({ id: expect.any(String), created: true, result: { echoed: "x" } });
  });

  it("Ctrl-C while the event stream is still connecting submits nothing", async () => {
    const slow = await stallingServer((method, url) => method === "GET" && url === "/api/events");
    try {
      const cli = spawnCli(["submit", "echo", "1", "--wait"], slow.env);
      await slow.reached; // connecting: the stream's request is at the server, unanswered
      cli.child.kill("SIGINT");
      const { code } = await cli.exited;
      expect(code).toBe(1);
      expect(cli.stderr()).toMatch(
        /^error OPTIQ_ABORTED: interrupted before the job was submitted: nothing was submitted$/m,
      );
      expect(cli.stdout()).toBe("");
      expect(slow.submits()).toBe(0);
    } finally {
      await slow.close();
    }
  });

  it("a reader of stderr that goes away costs the progress, not the result", async () => {
    stepsGate = deferred();
    const cli = spawnCli(["submit", "steps", "--wait"], env);
    const [, id] = (await cli.waitFor("stdout", /^(\d+)\n/))!;
    await cli.waitFor("stderr", new RegExp(`job ${id} running`));
    cli.child.stderr!.destroy(); // its next progress write meets EPIPE
    stepsGate.resolve();
    expect((await cli.exited).code).toBe(0);
    expect(cli.stdout()).toBe(`${id}\n${JSON.stringify({ steps: 2 }, null, 2)}\n`);
  });

  it("a job that fails prints its error and exits 1", async () => {
    const wait = await runCli(["submit", "fail", "--wait"], env);
    expect(wait.code).toBe(1);
    expect(wait.stderr).toMatch(/^error OPTIQ_JOB_FAILED: job \d+ failed after 1 attempt\(s\): fails on purpose$/m);
  });
});

describe("optiq errors and exit codes", () => {
  it("an unknown job: `error OPTIQ_NOT_FOUND: ...` on stderr, exit 1", async () => {
    const get = await runCli(["get", "999999"], env);
    expect(get).toMatchObject({ code: 1, stdout: "", stderr: "error OPTIQ_NOT_FOUND: job 999999 not found\n" });
  });

  it("an unknown job name: the server's error, exit 1", async () => {
    const submit = await runCli(["submit", "nope"], env);
    expect(submit.code).toBe(1);
    expect(submit.stderr).toContain(
      'error OPTIQ_UNKNOWN_JOB_NAME: name: no handler is defined or declared for job name "nope"',
    );
  });

  it("input that is not JSON is bad usage naming the input: exit 2", async () => {
    const submit = await runCli(["submit", "echo", "{not json"], env);
    expect(submit.code).toBe(2);
    expect(submit.stderr).toMatch(/input is not valid JSON/);
    expect(submit.stdout).toBe("");
  });

  it("bad usage exits 2: a missing argument, an unknown option, a bad number", async () => {
    expect((await runCli(["get"], env)).code).toBe(2);
    expect((await runCli(["stats", "--frobnicate"], env)).code).toBe(2);
    const bad = await runCli(["list", "--limit", "ten"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--limit");
  });

  it("a --url (or OPTIQ_URL) that is not an http URL is bad usage: exit 2", async () => {
    const flag = await runCli(["stats", "--url", "not a url"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--url <url>.*not a valid URL/);
    const fromEnv = await runCli(["stats"], { OPTIQ_URL: "ftp://127.0.0.1/" });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain("must be an http:// or https:// URL");
  });

  it("an unreachable server: `error OPTIQ_CONNECTION: ...`, exit 1", async () => {
    const stats = await runCli(["stats", "--url", "http://127.0.0.1:1"]);
    expect(stats.code).toBe(1);
    expect(stats.stderr).toMatch(/^error OPTIQ_CONNECTION: cannot reach http:\/\/127\.0\.0\.1:1\/api\/stats/);
  });
});

describe("optiq health", () => {
  it("exits 0 when healthy", async () => {
    const health = await runCli(["health"], env);
    expect(health).toMatchObject({ code: 0, stdout: "healthy\n" });
  });

  it("exits 1 when degraded, naming the issues; the token comes from OPTIQ_TOKEN", async () => {
    const clock = new FakeClock();
    const queue = new Optiq({ clock, stuckAfterMs: 1000 });
    const running = deferred();
    const release = deferred();
    queue.define("quiet", async () => {
      running.resolve();
      await release.promise;
    });
    const other = await serve(queue, { token: "t0ken" });
    try {
      const { id } = await new OptiqClient({ url: other.url, token: "t0ken" }).submit("quiet");
      await running.promise;
      await clock.advance(1001);
      const health = await runCli(["health"], { OPTIQ_URL: other.url, OPTIQ_TOKEN: "t0ken" });
      expect(health.code).toBe(1);
      expect(health.stdout).toMatch(/^degraded\n/);
      expect(health.stdout).toContain(`no-progress: job ${id} (quiet)`);
      const denied = await runCli(["health"], { OPTIQ_URL: other.url });
      expect(denied.code).toBe(1);
      expect(denied.stderr).toMatch(/^error OPTIQ_UNAUTHORIZED: /);
    } finally {
      release.resolve();
      await other.close();
    }
  });
});

describe("optiq watch", () => {
  it("prints plain lines when stdout is not a terminal, and exits 0 on SIGINT", async () => {
    const watch = spawnCli(["watch"], env);
    await watch.waitFor("stdout", /^totals running /m); // connected: the stream's first stats event
    stepsGate = deferred();
    const { id } = await client.submit("steps");
    await watch.waitFor("stdout", new RegExp(`^started ${id} steps \\(attempt 1\\)$`, "m"));
    await watch.waitFor("stdout", new RegExp(`^progress \\[.*\\]  50%  ${id} steps  1/2$`, "m"));
    stepsGate.resolve();
    await watch.waitFor("stdout", new RegExp(`^completed ${id} steps in \\d+ ms$`, "m"));
    watch.child.kill("SIGINT");
    expect((await watch.exited).code).toBe(0);
    expect(watch.stderr()).toBe("");
  });

  it.each([
    ["the event stream", (method: string, url: string) => method === "GET" && url === "/api/events"],
    ["the list of running jobs", (method: string, url: string) => method === "GET" && url.startsWith("/api/jobs?")],
  ])(
    "Ctrl-C while %s is still connecting exits 0, quietly",
    async (_what, stall) => {
      const slow = await stallingServer(stall);
      try {
        const watch = spawnCli(["watch"], slow.env);
        await slow.reached;
        watch.child.kill("SIGINT");
        expect((await watch.exited).code).toBe(0);
        expect(watch.stderr()).toBe("");
      } finally {
        await slow.close();
      }
    },
    15_000,
  );
});
