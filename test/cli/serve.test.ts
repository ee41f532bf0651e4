/**
 * `optiq serve` as a real child process: a SQLite file in a fresh
 * directory, a handlers module, a free port; jobs submitted over HTTP; a
 * graceful exit on SIGTERM that leaves the jobs in the file.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { createServer as createNetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { OptiqClient } from "../../src/client/index.js";
import { SqliteStore } from "../../src/sqlite.js";
import { createTestSchema, withClient } from "../support/pg.js";
import { runCli, spawnCli } from "./run-cli.js";

const dir = mkdtempSync(join(tmpdir(), "optiq-serve-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LISTENING = /^optiq listening on (http:\/\/\S+)$/m;

describe("optiq serve", () => {
  it("serves a SQLite queue with the module's handlers, and exits 0 on SIGTERM leaving the jobs stored", async () => {
    const db = join(dir, "nested", "dir", "optiq.db"); // its parent does not exist yet
    const serve = spawnCli(["serve", "--db", db, "--port", "0", "--handlers", "test/cli/fixtures/handlers.ts"]);
    const [, url] = (await serve.waitFor("stdout", LISTENING))!;
    expect(serve.stdout()).toContain(`store: SQLite ${db}`);
    const client = new OptiqClient({ url: url! });

    const { id } = await client.submit("echo", { hello: "world" }, { group: "solo" });
    expect(await client.result(id)).toEqual({ echoed: { hello: "world" } });
    // the module's `options` reached the queue: its defaults apply to every job
    expect(await client.get(id)).toMatchObject({ state: "completed", maxAttempts: 2, group: "solo" });
    // and the client commands work against it
    const get = await runCli(["get", id, "--json"], { OPTIQ_URL: url! });
    expect(JSON.parse(get.stdout)).toMatchObject({ id, state: "completed" });

    serve.child.kill("SIGTERM");
    expect(await serve.exited).toEqual({ code: 0, signal: null });
    expect(serve.stdout()).toMatch(/optiq stopped\n$/);

    const store = new SqliteStore({ path: db, watch: false });
    try {
      await store.init();
      expect(await store.get(id)).toMatchObject({ state: "completed", result: { echoed: { hello: "world" } } });
    } finally {
      await store.close();
    }
  });

  it("requires the token when given one, and can run without the dashboard", async () => {
    const serve = spawnCli(
      ["serve", "--memory", "--port", "0", "--no-dashboard", "--handlers", "test/cli/fixtures/handlers.ts"],
      { OPTIQ_TOKEN: "s3cret" },
    );
    const [, url] = (await serve.waitFor("stdout", LISTENING))!;
    expect(serve.stdout()).not.toContain("dashboard:");
    const denied = await new OptiqClient({ url: url! }).stats().catch((e: unknown) => e);
    expect(denied).toMatchObject({ code: "OPTIQ_UNAUTHORIZED" });
    const submit = await runCli(["submit", "echo", "1", "--wait", "--json"], {
      OPTIQ_URL: url!,
      OPTIQ_TOKEN: "s3cret",
    });
    expect(JSON.parse(submit.stdout)).toMatchObject({ result: { echoed: 1 } });
    serve.child.kill("SIGINT");
    expect((await serve.exited).code).toBe(0);
  });

  it("a missing handlers module, or one without a default function, exits 2 with a clear error", async () => {
    const missing = await runCli(["serve", "--memory", "--port", "0", "--handlers", "test/cli/fixtures/nope.ts"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: --handlers: module test\/cli\/fixtures\/nope\.ts not found/);
    const noDefault = await runCli([
      "serve",
      "--memory",
      "--port",
      "0",
      "--handlers",
      "test/cli/fixtures/no-default.ts",
    ]);
    expect(noDefault.code).toBe(2);
    expect(noDefault.stderr).toContain("has no default export function");
  });

  it("serves a PostgreSQL schema: jobs submitted through it are in that schema's tables", async () => {
    const { schema, connectionString, drop } = await createTestSchema();
    try {
      const serve = spawnCli([
        "serve",
        "--postgres",
        connectionString,
        "--schema",
        schema,
        "--port",
        "0",
        "--handlers",
        "test/cli/fixtures/handlers.ts",
      ]);
      const [, url] = (await serve.waitFor("stdout", LISTENING))!;
      expect(serve.stdout()).toContain(`schema ${schema}`);
      const client = new OptiqClient({ url: url! });
      const { id } = await client.submit("echo", [1, 2, 3]);
      expect(await client.result(id)).toEqual({ echoed: [1, 2, 3] });
      serve.child.kill("SIGTERM");
      expect(await serve.exited).toEqual({ code: 0, signal: null });
      const rows = await withClient((c) =>
        c.query<{ state: string }>(`SELECT state FROM "${schema}".jobs WHERE id = $1`, [id]),
      );
      expect(rows.rows).toEqual([{ state: "completed" }]);
    } finally {
      await drop();
    }
  });

  it("exits 0 once stopped, even when a job ignored its abort and still holds a timer", async () => {
    const serve = spawnCli([
      "serve",
      "--memory",
      "--port",
      "0",
      "--grace-ms",
      "50",
      "--handlers",
      "test/cli/fixtures/stubborn.ts",
    ]);
    try {
      const [, url] = (await serve.waitFor("stdout", LISTENING))!;
      const client = new OptiqClient({ url: url! });
      const ac = new AbortController();
      const events = client.events(ac.signal);
      await events.opened;
      const { id } = await client.submit("stubborn");
      for await (const e of events) if (e.event === "started" && e.data.id === id) break;
      serve.child.kill("SIGTERM");
      expect(await serve.exited).toEqual({ code: 0, signal: null });
      expect(serve.stdout()).toMatch(/optiq stopped\n$/);
    } finally {
      serve.child.kill("SIGKILL");
    }
  }, 20_000);

  it("a signal during startup (a PostgreSQL server that never answers) stops it: exit 130, connection closed", async () => {
    const sockets: Socket[] = [];
    // accepts, reads, never answers
    const silent = createNetServer((socket) => sockets.push(socket.resume()));
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    const { port } = silent.address() as { port: number };
    const connected = once(silent, "connection");
    const serve = spawnCli(["serve", "--postgres", `postgres://optiq:pw@127.0.0.1:${port}/optiq`, "--port", "0"]);
    try {
      await connected; // startup is waiting for the database
      const closed = once(sockets[0]!, "close");
      serve.child.kill("SIGINT");
      expect(await serve.exited).toEqual({ code: 130, signal: null });
      await closed;
      expect(serve.stdout()).not.toMatch(LISTENING);
      expect(serve.stderr()).toBe("SIGINT while starting: stopping without serving\n");
    } finally {
      serve.child.kill("SIGKILL");
      for (const s of sockets) s.destroy();
      silent.close();
    }
  }, 20_000);

  it("a port in use, or a --db it cannot create, is `error: <message>` without a stack: exit 1", async () => {
    const taken = createNetServer();
    taken.listen(0, "127.0.0.1");
    await once(taken, "listening");
    const { port } = taken.address() as { port: number };
    try {
      const inUse = await runCli(["serve", "--memory", "--port", String(port)]);
      expect(inUse.code).toBe(1);
      expect(inUse.stderr).toMatch(
        new RegExp(`^error: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port}$`, "m"),
      );
      expect(inUse.stderr).not.toMatch(/^\s+at /m);
    } finally {
      taken.close();
    }
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    const db = join(file, "sub", "optiq.db"); // its "directory" is a file
    const noDir = await runCli(["serve", "--db", db, "--port", "0"]);
    expect(noDir.code).toBe(1);
    expect(noDir.stderr).toMatch(/^error: ENOTDIR: not a directory, mkdir '[^']+'$/m);
    expect(noDir.stderr).not.toMatch(/^\s+at /m);
    // the stack, for a bug report, only when asked for
    const debug = await runCli(["serve", "--db", db, "--port", "0"], { OPTIQ_DEBUG: "1" });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^error: ENOTDIR: [^\n]*\nError: ENOTDIR[^\n]*\n\s+at /m);
  });

  it("two store flags at once, or --schema without --postgres, are bad usage", async () => {
    const schemaAlone = await runCli(["serve", "--memory", "--schema", "s"]);
    expect(schemaAlone.code).toBe(2);
    expect(schemaAlone.stderr).toContain("--schema: only with --postgres");
    const both = await runCli(["serve", "--memory", "--postgres", "postgres://x@127.0.0.1/y"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/cannot be used with/);
  });
});
