import { readdir, readFile } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";
import type { FastifyInstance } from "fastify";
import { RouteNotFoundError } from "../core/errors.js";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/** A name segment that cannot climb (`..`), hide (`.env`) or smuggle a separator. */
const SAFE_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

interface DashboardFile {
  path: string;
  type: string;
}

/**
 * The dashboard's files, listed once when the server is created: a request
 * is looked up in this fixed map and never joined onto a path, so no
 * spelling of a URL can read anything else. Hidden files and unknown
 * extensions are left out.
 */
export async function listDashboardFiles(dir: string): Promise<Map<string, DashboardFile>> {
  const files = new Map<string, DashboardFile>();
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return files;
    throw err;
  }
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    // parentPath is Node ≥ 20.12; path is its older name
    const full = join(entry.parentPath ?? entry.path, entry.name);
    const segments = relative(dir, full).split(sep);
    const type = CONTENT_TYPES[extname(entry.name).toLowerCase()];
    if (type === undefined || !segments.every((s) => SAFE_SEGMENT.test(s))) continue;
    files.set(segments.join("/"), { path: full, type });
  }
  return files;
}

export async function dashboardRoutes(server: FastifyInstance, dir: string): Promise<void> {
  const files = await listDashboardFiles(dir);
  const serve = async (name: string, method: string, url: string) => {
    const file = files.get(name);
    if (file === undefined) throw new RouteNotFoundError(method, url);
    try {
      return { body: await readFile(file.path), type: file.type };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new RouteNotFoundError(method, url);
      throw err;
    }
  };
  server.get("/", async (request, reply) => {
    const { body, type } = await serve("index.html", request.method, "/");
    return reply.type(type).header("cache-control", "no-cache").send(body);
  });
  server.get<{ Params: { "*": string } }>("/dashboard/*", async (request, reply) => {
    const { body, type } = await serve(request.params["*"], request.method, request.url.split("?")[0]!);
    return reply.type(type).header("cache-control", "no-cache").send(body);
  });
}
