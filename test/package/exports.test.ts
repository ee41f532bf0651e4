/**
 * The published shape: `npm run build` emits dist/, and the package's own
 * exports (`optiq`, `optiq/sqlite`, `optiq/postgres`, `optiq/testing`,
 * `optiq/server`, `optiq/client`) and the `optiq` command load and work from
 * it in plain Node, without tsx.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));

describe("package exports", () => {
  it("builds, and every export point loads and runs a job from dist/", () => {
    execFileSync("npm", ["run", "build", "--silent"], { cwd: root, stdio: "pipe" });
    expect(existsSync(`${root}dist/stores/postgres/migrations/001_init.sql`)).toBe(true);
    const script = `
      const { Optiq, OptiqError, JobFailedError } = await import("optiq");
      const { SqliteStore } = await import("optiq/sqlite");
      const { PostgresStore } = await import("optiq/postgres");
      const { FakeClock, MemoryStore } = await import("optiq/testing");
      if (typeof SqliteStore !== "function" || typeof PostgresStore !== "function") throw new Error("store exports");
      if (!(new JobFailedError("1", 1, null) instanceof OptiqError)) throw new Error("error classes");
      const q = new Optiq({ store: new MemoryStore(), clock: new FakeClock() });
      q.define("square", async (job) => job.input * job.input);
      await q.start();
      const { id } = await q.submit("square", 12);
      const result = await q.result(id);
      const { createServer } = await import("optiq/server");
      const server = await createServer({ queue: q });
      const stats = await server.inject({ method: "GET", url: "/api/stats" });
      // the dashboard folder resolves from dist/server/ to the package's dashboard/
      const page = await server.inject({ method: "GET", url: "/" });
      const { OptiqClient, ConnectionError } = await import("optiq/client");
      const client = new OptiqClient({ url: await server.listen({ port: 0, host: "127.0.0.1" }) });
      const overHttp = await client.result((await client.submit("square", 3)).id);
      await server.close();
      if (typeof ConnectionError !== "function") throw new Error("client errors");
      console.log(JSON.stringify({ result, completed: stats.json().counts.completed, page: page.statusCode, overHttp }));
      await q.stop();
    `;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" });
    expect(JSON.parse(out.trim())).toEqual({ result: 144, completed: 1, page: 200, overHttp: 9 });
    // the package's bin, as npm links it
    const bin = (JSON.parse(readFileSync(`${root}package.json`, "utf8")) as { bin: Record<string, string> }).bin.optiq!;
    const help = execFileSync(process.execPath, [`${root}${bin}`, "--help"], { cwd: root, encoding: "utf8" });
    expect(help).toMatch(/Usage: optiq/);
    expect(help).toContain("serve");
  }, 120_000);
});
