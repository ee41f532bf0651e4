import { LiveBlock, type TerminalStream } from "./live-block.js";
import { describeProgress, renderBar } from "./progress.js";
import { oneLine } from "./text.js";

/** Plain (non-terminal) output prints progress at most this often, so logs stay readable. */
const PLAIN_EVERY_MS = 1000;

/**
 * One job's progress line on stderr while `submit --wait` waits: redrawn in
 * place on a terminal; otherwise printed as plain lines — every change of
 * state at once, progress at most once a second (the latest value last).
 */
export class JobProgress {
  private state = "queued";
  private progress: unknown = null;
  private readonly live: LiveBlock | null;
  private lastLine = "";
  private lastPlainAt = 0;
  private trailing: NodeJS.Timeout | null = null;

  constructor(
    private readonly id: string,
    private readonly stream: TerminalStream = process.stderr,
  ) {
    this.live = stream.isTTY === true ? new LiveBlock(stream) : null;
    this.draw(true);
  }

  /** A null state keeps the current one. */
  update(state: string | null, progress?: unknown): void {
    const stateChanged = state !== null && state !== this.state;
    if (state !== null) this.state = state;
    if (progress !== undefined) this.progress = progress;
    this.draw(stateChanged);
  }

  finish(state: string): void {
    this.state = state;
    this.draw(true);
    this.live?.done();
  }

  private line(): string {
    const view = describeProgress(this.progress);
    // the state may carry an error message: whatever it holds, this stays one line
    return oneLine(`${renderBar(view.fraction)}  job ${this.id} ${this.state}${view.label ? `  ${view.label}` : ""}`);
  }

  private draw(now: boolean): void {
    if (this.live) {
      this.write(this.line());
      return;
    }
    const wait = this.lastPlainAt + PLAIN_EVERY_MS - Date.now();
    if (now || wait <= 0) {
      this.write(this.line());
    } else {
      this.trailing ??= setTimeout(() => this.write(this.line()), wait);
    }
  }

  private write(line: string): void {
    if (this.trailing) clearTimeout(this.trailing);
    this.trailing = null;
    // a reader of stderr that went away (EPIPE): nothing more to draw; the result still goes to stdout
    if (this.stream.destroyed === true || this.stream.writable === false) return;
    if (line === this.lastLine) return;
    this.lastLine = line;
    if (this.live) {
      this.live.draw([line]);
    } else {
      this.lastPlainAt = Date.now();
      this.stream.write(`${line}\n`);
    }
  }
}
