import type { SnapshotReader } from './chunks';
import type { SnapshotProgress } from '../store/snapshots';

/** What says how far a run's snapshot is written (store/snapshots.ts). */
export interface SnapshotProgressSource {
  /** undefined while the snapshot has not begun. */
  readable(runId: string): Promise<SnapshotProgress | undefined>;
}

/** How long a reader waits before it looks again for rows the snapshot has not committed yet. */
const WAIT_MS = 20;

/**
 * A reader of a snapshot that may still be being written (its uploads start with its first rows):
 * a page is read once all of it is committed, so a short page still means the snapshot's end,
 * exactly as with a finished snapshot; before the snapshot begins, it waits too. `onWait` runs
 * while it waits (cancellation).
 */
export function waitingReader(reader: SnapshotReader, source: SnapshotProgressSource, onWait?: () => void): SnapshotReader {
  let complete = false;
  return {
    async readPage(runId, afterSeq, limit) {
      while (!complete) {
        const progress = await source.readable(runId);
        complete = progress !== undefined && progress.taken >= progress.profiles;
        if (complete || (progress && progress.taken >= afterSeq + limit)) break;
        onWait?.();
        await new Promise((resolve) => setTimeout(resolve, WAIT_MS));
      }
      return reader.readPage(runId, afterSeq, limit);
    },
  };
}
