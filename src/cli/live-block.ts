/** The part of a terminal stream a live block needs. */
export interface TerminalStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * A block of lines redrawn in place on a terminal: each draw moves the
 * cursor back over the previous block and clears to the end of the screen.
 * Lines are cut to the terminal's width, since a wrapped line would throw
 * the cursor arithmetic off.
 */
export class LiveBlock {
  private height = 0;

  constructor(private readonly stream: TerminalStream) {}

  draw(lines: readonly string[]): void {
    const width = this.stream.columns ?? 0;
    const fitted = width > 1 ? lines.map((l) => (l.length >= width ? `${l.slice(0, width - 2)}…` : l)) : lines;
    const back = this.height > 0 ? `\x1b[${this.height}F` : "";
    this.stream.write(`${back}\x1b[J${fitted.join("\n")}${fitted.length > 0 ? "\n" : ""}`);
    this.height = fitted.length;
  }

  /** Leaves the last drawing on screen; the next output starts below it. */
  done(): void {
    this.height = 0;
  }
}
