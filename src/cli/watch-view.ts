import type { Job, Stats, StreamEvent } from "../client/index.js";
import { totalsLine } from "./format.js";
import { LiveBlock, type TerminalStream } from "./live-block.js";
import { progressLine } from "./progress.js";
import { oneLine } from "./text.js";

/** A terminal is redrawn at most this often: progress events can come by the thousand. */
const REDRAW_MS = 100;
/** Plain output prints a job's progress at most this often. */
const PLAIN_PROGRESS_MS = 1000;

interface RunningJob {
  id: string;
  name: string;
  progress: unknown;
  lastPlainAt: number;
  /** When an event about it last arrived (0: known only from a list). */
  heardAt: number;
}

/**
 * What `optiq watch` shows. On a terminal: one bar per running job (oldest
 * first, as many as fit) and a totals line, redrawn in place. Otherwise one
 * plain line per event (progress throttled per job), or the events as JSON
 * lines with --json.
 */
export class WatchView {
  private readonly running = new Map<string, RunningJob>();
  private stats: Stats | null = null;
  private readonly live: LiveBlock | null;
  private timer: NodeJS.Timeout | null = null;
  private dirty = false;

  constructor(
    private readonly out: TerminalStream & { rows?: number },
    private readonly json: boolean,
  ) {
    this.live = !json && out.isTTY === true ? new LiveBlock(out) : null;
    if (this.live) {
      this.out.write("\x1b[?25l"); // the cursor would flicker across the redrawn block
      this.timer = setInterval(() => this.redraw(), REDRAW_MS);
    }
  }

  seed(jobs: readonly Job[]): void {
    for (const j of jobs) {
      if (!this.running.has(j.id))
        this.running.set(j.id, { id: j.id, name: j.name, progress: j.progress, lastPlainAt: 0, heardAt: 0 });
    }
    this.changed();
  }

  /** The ids shown as running now: what a later `reconcile` may drop. */
  runningIds(): string[] {
    return [...this.running.keys()];
  }

  /**
   * The server's list of running jobs, asked for when `askedFor` were shown:
   * those of them no longer running went away without an event here (a
   * worker elsewhere on a shared store finished them); jobs started since the
   * list was asked for stay.
   */
  reconcile(askedAt: number, askedFor: readonly string[], running: readonly Job[]): void {
    const still = new Set(running.map((j) => j.id));
    for (const id of askedFor) if (!still.has(id)) this.running.delete(id);
    for (const j of running) {
      const shown = this.running.get(j.id);
      // progress known only from lists (a job running elsewhere) follows the list; events win otherwise
      if (shown && shown.heardAt < askedAt) shown.progress = j.progress;
    }
    this.seed(running);
  }

  apply(e: StreamEvent): void {
    if (this.json) {
      this.out.write(`${JSON.stringify(e)}\n`);
      return;
    }
    switch (e.event) {
      case "stats":
        this.stats = e.data;
        this.plain(`totals ${totalsLine(e.data)}`);
        break;
      case "started":
        this.running.set(e.data.id, {
          id: e.data.id,
          name: e.data.name,
          progress: null,
          lastPlainAt: 0,
          heardAt: Date.now(),
        });
        this.plain(`started ${e.data.id} ${e.data.name} (attempt ${e.data.attempt})`);
        break;
      case "progress": {
        const job = this.running.get(e.data.id) ?? {
          id: e.data.id,
          name: e.data.name,
          progress: null,
          lastPlainAt: 0,
          heardAt: 0,
        };
        job.progress = e.data.progress;
        job.heardAt = Date.now();
        this.running.set(job.id, job);
        const now = Date.now();
        if (!this.live && now - job.lastPlainAt >= PLAIN_PROGRESS_MS) {
          job.lastPlainAt = now;
          this.plain(`progress ${progressLine(job.id, job.name, job.progress)}`);
        }
        break;
      }
      case "retrying":
        this.running.delete(e.data.id);
        this.plain(`retrying ${e.data.id} ${e.data.name} after attempt ${e.data.attempt}: ${e.data.error.message}`);
        break;
      case "completed":
        this.running.delete(e.data.id);
        this.plain(`completed ${e.data.id} ${e.data.name} in ${e.data.runMs} ms`);
        break;
      case "failed":
        this.running.delete(e.data.id);
        this.plain(`failed ${e.data.id} ${e.data.name}: ${e.data.error.message}`);
        break;
      case "cancelled":
        this.running.delete(e.data.id);
        this.plain(`cancelled ${e.data.id} ${e.data.name}: ${e.data.reason}`);
        break;
      case "submitted":
      case "drained":
        break;
    }
    this.changed();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.live) {
      this.redraw();
      this.live.done();
      this.out.write("\x1b[?25h");
    }
  }

  /** One line per event, whatever its names and messages hold. */
  private plain(line: string): void {
    if (!this.live) this.out.write(`${oneLine(line)}\n`);
  }

  private changed(): void {
    this.dirty = true;
  }

  private redraw(): void {
    if (!this.live || !this.dirty) return;
    this.dirty = false;
    const jobs = [...this.running.values()].sort((a, b) => compareIds(a.id, b.id));
    // a terminal that reports no size (0 rows: some pseudo-terminals) gets the classic 24
    const room = Math.max(1, (this.out.rows || 24) - 3);
    const shown = jobs.slice(0, room);
    const lines = shown.map((j) => progressLine(j.id, j.name, j.progress));
    if (jobs.length > shown.length) lines.push(`… and ${jobs.length - shown.length} more running`);
    if (jobs.length === 0) lines.push("no job running");
    lines.push(this.stats ? totalsLine(this.stats) : "waiting for stats…");
    this.live.draw(lines);
  }
}

/** Ids are decimal on every store; shorter first keeps numeric order without parsing. */
function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
