/**
 * A live status line on stderr. On a terminal it is redrawn in place (`\r`)
 * about five times a second; otherwise (a pipe, CI logs) one plain line is
 * printed per second, so logs are not flooded with carriage returns.
 */
export class StatusLine {
  private readonly tty: boolean;
  private timer: NodeJS.Timeout | null = null;
  private lastWidth = 0;
  private busy = false;

  constructor(
    private readonly render: () => Promise<string> | string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = stream.isTTY === true;
  }

  start(): void {
    const every = this.tty ? 200 : 1000;
    this.timer = setInterval(() => void this.draw(), every);
  }

  /** Stops updating and prints the final state on its own line. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.draw(true);
  }

  private async draw(final = false): Promise<void> {
    if (this.busy && !final) return;
    this.busy = true;
    try {
      let text = await this.render();
      if (this.tty) {
        // one terminal row, or `\r` cannot take it back
        const columns = this.stream.columns;
        if (columns !== undefined && columns > 1 && text.length >= columns) text = `${text.slice(0, columns - 2)}…`;
        const pad = " ".repeat(Math.max(0, this.lastWidth - text.length));
        this.lastWidth = text.length;
        this.stream.write(`\r${text}${pad}${final ? "\n" : ""}`);
      } else {
        this.stream.write(`${text}\n`);
      }
    } finally {
      this.busy = false;
    }
  }
}
