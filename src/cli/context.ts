import type { Command } from "commander";
import { OptiqClient } from "../client/index.js";

/** The options every client command shares (declared on the program). */
export interface GlobalOptions {
  url: string;
  token?: string;
  json?: boolean;
}

export interface ClientContext {
  client: OptiqClient;
  json: boolean;
  url: string;
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

export function clientContext(cmd: Command): ClientContext {
  const g = globals(cmd);
  const client = new OptiqClient({ url: g.url, ...(g.token ? { token: g.token } : {}) });
  return { client, json: g.json === true, url: g.url };
}

export function print(line = ""): void {
  process.stdout.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
