/** The dashboard's static files: served from a fixed list with their content types, nothing else reachable. */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Optiq } from "../../src/index.js";
import { createServer } from "../../src/server/index.js";
import { listen } from "./helpers.js";

let root: string;
let dir: string;
let queue: Optiq;
let server: FastifyInstance;
let base: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "optiq-dashboard-"));
  dir = join(root, "dashboard");
  mkdirSync(join(dir, "vendor"), { recursive: true });
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>optiq</title>");
  writeFileSync(join(dir, "app.js"), "export const app = 1;");
  writeFileSync(join(dir, "style.css"), "body { margin: 0 }");
  writeFileSync(join(dir, "icon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
  writeFileSync(join(dir, "vendor", "chart.js"), "export const chart = 1;");
  writeFileSync(join(dir, ".env"), "SECRET=1");
  writeFileSync(join(dir, "notes.md"), "# not served");
  writeFileSync(join(root, "secret.json"), '{"secret":true}');
  queue = new Optiq();
  server = await createServer({ queue, dashboardDir: dir, token: "t" });
  base = await listen(server);
});

afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

/** Sends a request line exactly as written (fetch and inject would normalise `..` away). */
function rawGet(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const { port } = new URL(base);
    const socket = connect(Number(port), "127.0.0.1");
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (answer += chunk));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

describe("the dashboard", () => {
  it.each([
    ["/", "text/html; charset=utf-8", "<!doctype html><title>optiq</title>"],
    ["/dashboard/index.html", "text/html; charset=utf-8", "<!doctype html><title>optiq</title>"],
    ["/dashboard/app.js", "text/javascript; charset=utf-8", "export const app = 1;"],
    ["/dashboard/style.css", "text/css; charset=utf-8", "body { margin: 0 }"],
    ["/dashboard/icon.svg", "image/svg+xml", "<svg xmlns='http://www.w3.org/2000/svg'/>"],
    ["/dashboard/vendor/chart.js", "text/javascript; charset=utf-8", "export const chart = 1;"],
  ])("serves %s as %s, without the API token", async (url, type, body) => {
    const res = await server.inject({ method: "GET", url });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe(type);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.body).toBe(body);
  });

  it("serves no hidden file, no unknown type, nothing outside its folder", async () => {
    for (const url of [
      "/dashboard/.env",
      "/dashboard/notes.md",
      "/dashboard/",
      "/dashboard/nope.js",
      "/dashboard/vendor",
      "/dashboard/%2e%2e/secret.json",
      "/dashboard/vendor/%2e%2e/%2e%2e/secret.json",
      "/dashboard/..%2fsecret.json",
    ]) {
      const res = await server.inject({ method: "GET", url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error.code, url).toBe("OPTIQ_ROUTE_NOT_FOUND");
    }
  });

  it("`..` sent verbatim on the wire reaches nothing outside the folder", async () => {
    for (const path of [
      "/dashboard/../secret.json",
      "/dashboard/vendor/../../secret.json",
      "/dashboard/%2e%2e/secret.json",
      "/dashboard/..%5csecret.json",
      "/dashboard/../../../../../../etc/passwd",
    ]) {
      const answer = await rawGet(path);
      expect(answer, path).toMatch(/^HTTP\/1\.1 (400|404) /);
      expect(answer, path).not.toContain('"secret":true');
      expect(answer, path).not.toContain("root:");
    }
  });

  it("by default serves the package's dashboard/ folder", async () => {
    const fallback = await createServer({ queue });
    try {
      const index = new URL("../../dashboard/index.html", import.meta.url);
      const res = await fallback.inject({ method: "GET", url: "/" });
      if (existsSync(index)) {
        expect(res.statusCode).toBe(200);
        expect(res.body).toBe(readFileSync(index, "utf8"));
      } else {
        expect(res.statusCode).toBe(404);
      }
    } finally {
      await fallback.close();
    }
  });
});
