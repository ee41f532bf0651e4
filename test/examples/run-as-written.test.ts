/**
 * The README's examples run as written: each as its own process, under tsx,
 * printing what the README says it prints.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);

async function example(file: string): Promise<string> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", `examples/${file}`], {
    cwd: root,
    timeout: 60_000,
  });
  return stdout;
}

describe("examples", () => {
  it("quick-start.ts prints 144", async () => {
    expect((await example("quick-start.ts")).trim()).toBe("144");
  });

  it("server-and-client.ts submits over HTTP, gets the result, and a failed job as JobFailedError", async () => {
    const out = await example("server-and-client.ts");
    expect(out).toMatch(/^serving http:\/\/127\.0\.0\.1:\d+ \(dashboard at http:\/\/127\.0\.0\.1:\d+\/\)$/m);
    expect(out).toContain("result: { prompt: 'rank these answers', score: 0.18 }");
    expect(out).toMatch(/^job \d+ failed after 1 attempt\(s\)$/m);
    expect(out).toContain("completed so far: 1");
  });
});
