import type { SqliteDb } from './db';
import type { JobRunner } from './jobs';

/**
 * WAL checkpoints off the calling thread. SQLite copies the write-ahead log into the database
 * file on the connection whose commit pushes the log past 1,000 pages; after a long write of
 * another connection (a run's snapshot, a refresh) that copy can be hundreds of megabytes, and on
 * the API's connection it stopped every request for as long. So the API's own connection never
 * checkpoints: a commit asks for a passive checkpoint soon after, run by the store's worker thread
 * (store/offload.ts), which has its own connection and nothing else to keep waiting. (The Temporal
 * worker keeps SQLite's way: nothing waits on its event loop but its own activities.)
 */
export class WalCheckpointer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private wanted = false;
  private closed = false;

  constructor(
    db: SqliteDb,
    private readonly jobs: JobRunner,
    /** How long after a commit the checkpoint runs: commits in a burst share one. */
    private readonly delayMs = 250,
  ) {
    db.raw.pragma('wal_autocheckpoint = 0');
    db.afterCommit = () => this.soon();
  }

  private soon(): void {
    if (this.closed) return;
    if (this.running) {
      this.wanted = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => this.checkpoint(), this.delayMs);
    this.timer.unref();
  }

  private checkpoint(): void {
    this.timer = undefined;
    this.wanted = false;
    // A failed checkpoint loses nothing (the log only grows until the next one); the next commit asks again.
    this.running = this.jobs.run('checkpoint', {}).then(
      () => undefined,
      () => undefined,
    );
    void this.running.then(() => {
      this.running = undefined;
      if (this.wanted) this.soon();
    });
  }

  /** Stops asking; waits for a checkpoint under way. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
