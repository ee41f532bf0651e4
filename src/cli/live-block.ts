import { fitColumns, oneLine } from "./text.js";

/** The part of a terminal stream a live block needs. */
export interface TerminalStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
  /** Set on a Node stream: once destroyed (its reader went away), writing is pointless. */
  destroyed?: boolean;
  writable?: boolean;
}

/**
 * A block of lines redrawn in place on a terminal: each draw moves the
 * cursor back over the previous block and clears to the end of the screen.
 * Lines are cut to the terminal's width in columns (a wide character takes
 * two), since a wrapped line would throw the cursor arithmetic off; a line
 * break or a control character in a line would too, so they are replaced or
 * dropped.
 */
export class LiveBlock {
  private height = 0;

  constructor(private readonly stream: TerminalStream) {}

  draw(lines: readonly string[]): void {
    const width = this.stream.columns ?? 0;
    const clean = lines.map(oneLine);
    // one column short of the width: a line that fills it exactly leaves some terminals about to wrap
    const fitted = width > 1 ? clean.map((l) => fitColumns(l, width - 1)) : clean;
    const back = this.height > 0 ? `\x1b[${this.height}F` : "";
    this.stream.write(`${back}\x1b[J${fitted.join("\n")}${fitted.length > 0 ? "\n" : ""}`);
    this.height = fitted.length;
  }

  /** Leaves the last drawing on screen; the next output starts below it. */
  done(): void {
    this.height = 0;
  }
}
