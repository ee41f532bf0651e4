import type { ServerResponse } from "node:http";

/**
 * The responses being written. server.close() destroys every socket (an
 * HTTP client's spare, unused connection would otherwise hold the close up
 * for as long as the client keeps it); it first lets these finish, once
 * streams are ended and result waits answered, so no answer is cut short.
 */
export class InFlight {
  private readonly open = new Set<ServerResponse>();
  private waiters: (() => void)[] = [];

  track(res: ServerResponse): void {
    if (this.open.has(res)) return;
    this.open.add(res);
    const done = (): void => {
      if (!this.open.delete(res) || this.open.size > 0) return;
      for (const w of this.waiters) w();
      this.waiters = [];
    };
    res.once("finish", done);
    res.once("close", done);
  }

  /** Resolves once every tracked response has finished or its connection has closed. */
  settled(): Promise<void> {
    return this.open.size === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}
