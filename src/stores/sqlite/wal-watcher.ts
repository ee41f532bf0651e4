import { watch, type FSWatcher } from "node:fs";
import { basename, dirname, resolve } from "node:path";

/**
 * Notices writes to a database's WAL file as they happen (inotify on Linux,
 * FSEvents on macOS), so listeners learn of other processes' writes without
 * waiting for the next poll. Best effort: on a file system without change
 * events (some network mounts), or if watching fails, polling alone remains.
 * Events for this process's own writes come too; the poll they trigger ends
 * at its `PRAGMA data_version` check, which only other connections' commits move.
 */
export class WalWatcher {
  private watcher: FSWatcher | null = null;
  private scheduled = false;

  constructor(
    private readonly dbPath: string,
    private readonly onChange: () => void,
  ) {}

  start(): void {
    if (this.watcher !== null) return;
    const file = resolve(this.dbPath);
    const wal = `${basename(file)}-wal`;
    try {
      // the directory, not the file: a WAL file deleted and created again (last connection closed) stays watched
      this.watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
        if (name !== null && name !== wal) return;
        // a burst of writes is one poll, on the next turn
        if (this.scheduled) return;
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          if (this.watcher !== null) this.onChange();
        });
      });
      this.watcher.on("error", () => this.stop());
    } catch {
      this.watcher = null;
    }
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = null;
  }
}
