import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in the stream's text so far or later; rejects if the process exits first. */
  waitFor(stream: "stdout" | "stderr", pattern: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The real `optiq` command in its own Node process (TypeScript through tsx), run from the repository root. */
export function spawnCli(args: readonly string[], env: Record<string, string> = {}): CliProcess {
  const base = { ...process.env };
  delete base.OPTIQ_URL;
  delete base.OPTIQ_TOKEN;
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], {
    cwd: REPO_ROOT,
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const text = { stdout: "", stderr: "" };
  const waiters: { stream: "stdout" | "stderr"; pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      const m = text[w.stream].match(w.pattern);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  for (const stream of ["stdout", "stderr"] as const) {
    child[stream]!.setEncoding("utf8").on("data", (chunk: string) => {
      text[stream] += chunk;
      check();
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    exited,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    waitFor(stream, pattern) {
      const m = text[stream].match(pattern);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        waiters.push({ stream, pattern, resolve });
        void exited.then(() => {
          const late = text[stream].match(pattern);
          if (late) resolve(late);
          else
            reject(new Error(`exited without printing ${pattern} on ${stream}; stderr: ${text.stderr.slice(-2000)}`));
        });
      });
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  const p = spawnCli(args, env);
  const { code } = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}
