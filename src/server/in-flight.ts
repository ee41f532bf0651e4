import type { ServerResponse } from "node:http";

/**
 * The responses being written. server.close() destroys every socket (an
 * HTTP client's spare, unused connection would otherwise hold the close up
 * for as long as the client keeps it); it first lets these finish, once
 * streams are ended and result waits answered, so no answer is cut short.
 * Tracked from the handler on: a request whose body never finishes arriving
 * has no answer to wait for.
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

  /**
   * Resolves once every tracked response has finished or its connection has
   * closed, or after `deadlineMs`: a client that stops reading must not hold
   * the close up for ever (its socket is destroyed next).
   */
  settled(deadlineMs: number): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, deadlineMs);
      timer.unref();
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
