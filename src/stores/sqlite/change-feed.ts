import { randomUUID } from "node:crypto";
import { StoreError } from "../../core/errors.js";
import type { StoreListener, Unsubscribe } from "../../store/port.js";
import type { Effects } from "./effects.js";
import type { Statements } from "./statements.js";
import { WalWatcher } from "./wal-watcher.js";

/** Change-feed rows are kept this long (wall clock) so a slow poller still sees them. */
const EVENT_RETENTION_MS = 120_000;
/** Prune the change feed after this many events written by this instance. */
const EVENT_PRUNE_EVERY = 256;
const EVENT_PRUNE_BATCH = 5000;
const EVENT_READ_BATCH = 1000;

/**
 * The store's listeners and the `events` table that carries wake-ups between
 * processes. Writes by this instance are recorded before commit and announced
 * to its own listeners after; other processes' writes are found by polling
 * (gated by the nearly free `PRAGMA data_version`), at once when the WAL
 * file's change events reach us, at the latest every pollIntervalMs.
 */
export class ChangeFeed {
  private readonly pollIntervalMs: number;
  private stmts: Statements | null = null;
  /** Identifies this instance's rows in the change feed; new on every open. */
  private origin = "";
  private readonly listeners = new Set<StoreListener>();
  private timer: NodeJS.Timeout | null = null;
  private readonly watcher: WalWatcher | null;
  private cursor = 0;
  private seenVersion = -1;
  private eventsSincePrune = 0;

  /** `watchPath`: the database file whose WAL to watch for other processes' writes; null to rely on polling alone. */
  constructor(pollIntervalMs: number, watchPath: string | null) {
    this.pollIntervalMs = pollIntervalMs;
    this.watcher = watchPath === null ? null : new WalWatcher(watchPath, () => this.poll());
  }

  /** Starts using a newly opened connection. */
  attach(stmts: Statements): void {
    this.stmts = stmts;
    this.origin = randomUUID();
  }

  /** Stops polling and forgets every listener, before the connection closes. */
  detach(): void {
    this.stopPolling();
    this.listeners.clear();
    this.stmts = null;
  }

  subscribe(listener: StoreListener): Unsubscribe {
    const s = this.attached();
    if (this.timer === null) {
      // version first: a commit between the two reads is then seen by the next poll
      this.seenVersion = s.dataVersion.get() ?? -1;
      this.cursor = s.lastEventId.get() ?? 0;
      this.timer = setInterval(() => this.poll(), this.pollIntervalMs);
      this.timer.unref();
      this.watcher?.start();
    }
    this.listeners.add(listener);
    return (): Promise<void> => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopPolling();
      return Promise.resolve();
    };
  }

  /** Writes the transaction's changes to the feed, before commit. */
  record(fx: Effects): void {
    const s = this.attached();
    const at = Date.now();
    let written = 0;
    if (fx.finished.length > 0) {
      s.addEvent.run(at, this.origin, "finished", JSON.stringify(fx.finished));
      written++;
    }
    if (fx.cancelRequested.length > 0) {
      s.addEvent.run(at, this.origin, "cancel", JSON.stringify(fx.cancelRequested));
      written++;
    }
    if (fx.available) {
      s.addEvent.run(at, this.origin, "available", null);
      written++;
    }
    this.eventsSincePrune += written;
    if (this.eventsSincePrune >= EVENT_PRUNE_EVERY) this.prune();
  }

  /** Drops a batch of events old enough that every poller has read them (inside a transaction). */
  prune(): void {
    this.eventsSincePrune = 0;
    this.attached().dropEvents.run(EVENT_PRUNE_BATCH, Date.now() - EVENT_RETENTION_MS);
  }

  /** Tells this instance's listeners about a committed write. */
  announce(fx: Effects): void {
    if (this.listeners.size === 0) return;
    if (fx.finished.length > 0) this.dispatch((l) => l.onFinished?.(fx.finished));
    if (fx.cancelRequested.length > 0) this.dispatch((l) => l.onCancelRequested?.(fx.cancelRequested));
    if (fx.available) this.dispatch((l) => l.onAvailable?.());
  }

  private attached(): Statements {
    if (!this.stmts) throw new StoreError("SQLite store: the change feed was used without an open connection");
    return this.stmts;
  }

  private dispatch(call: (l: StoreListener) => void): void {
    for (const l of [...this.listeners]) {
      try {
        call(l);
      } catch {
        // a listener's failure must not turn a committed write into an error
      }
    }
  }

  private stopPolling(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.watcher?.stop();
  }

  /** Reports other connections' writes: cheap version check, then the change feed after the cursor. */
  private poll(): void {
    const s = this.stmts;
    if (!s || this.listeners.size === 0) return;
    const finished: string[] = [];
    const cancelRequested: string[] = [];
    let available = false;
    let gap = false;
    try {
      const version = s.dataVersion.get() ?? -1;
      if (version === this.seenVersion) return;
      this.seenVersion = version;
      for (;;) {
        const rows = s.eventsAfter.all(this.cursor, EVENT_READ_BATCH);
        const first = rows[0];
        if (first === undefined) break;
        // ids come from AUTOINCREMENT and are never reused: a hole means pruned before we read it
        if (first.id > this.cursor + 1) gap = true;
        for (const r of rows) {
          this.cursor = r.id;
          if (r.origin === this.origin) continue;
          if (r.kind === "available") available = true;
          else if (r.ids !== null)
            (r.kind === "finished" ? finished : cancelRequested).push(...(JSON.parse(r.ids) as string[]));
        }
        if (rows.length < EVENT_READ_BATCH) break;
      }
    } catch {
      // e.g. the file is briefly locked by a checkpoint: try again at the next tick
    }
    if (finished.length > 0) this.dispatch((l) => l.onFinished?.(finished));
    if (cancelRequested.length > 0) this.dispatch((l) => l.onCancelRequested?.(cancelRequested));
    if (available || gap) this.dispatch((l) => l.onAvailable?.());
    if (gap) this.dispatch((l) => l.onResync?.());
  }
}
