import { ImportPacker, type PackedImport } from '../constant-contact/packing';
import type { Mapping, Reject } from '../store/types';
import { mapProfile, toImportContact } from './contacts';

/**
 * Cuts the next chunk of a run's snapshot: reads rows after a cursor, maps and validates each,
 * rejects with reasons, and packs the contacts into one import body within Constant Contact's
 * limits. Deterministic: the same snapshot and cursor give the same chunk, so a retried upload
 * re-reads exactly the same range. Shared by the upload activity and the bench's plain script.
 */

export interface SnapshotRow {
  seq: number;
  profileId: string;
  emailKey: string | null;
  /** The mapped attributes by profile attribute name. */
  data: Record<string, unknown>;
}

export interface SnapshotReader {
  /** Rows with seq > afterSeq, ordered by seq, at most `limit`. */
  readPage(runId: string, afterSeq: number, limit: number): Promise<SnapshotRow[]>;
}

export interface ChunkCursor {
  afterSeq: number;
  lastAcceptedSeq: number | null;
}

export interface ChunkLimits {
  listId: string;
  mapping: Mapping;
  maxContacts: number;
  maxBytes: number;
  /** Snapshot rows read per query. */
  pageSize: number;
}

export interface CutChunk {
  /** The snapshot range covered, both ends included; firstSeq > lastSeq when no row was left. */
  firstSeq: number;
  lastSeq: number;
  /** The import body, or undefined when every row of the range was rejected. */
  packed: PackedImport<number> | undefined;
  rejects: Reject[];
  rejected: number;
  duplicates: number;
  nextCursor: ChunkCursor;
  /** No snapshot row after lastSeq. */
  done: boolean;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Called between pages (heartbeats, cancellation checks). */
export type PageHook = () => void;

export async function cutChunk(
  reader: SnapshotReader,
  runId: string,
  cursor: ChunkCursor,
  limits: ChunkLimits,
  options: { untilSeq?: number; onPage?: PageHook } = {},
): Promise<CutChunk> {
  const packer = new ImportPacker<number>({ listIds: [limits.listId], maxContacts: limits.maxContacts, maxBytes: limits.maxBytes });
  let previousKey: string | null = null;
  if (cursor.lastAcceptedSeq !== null) {
    const [row] = await reader.readPage(runId, cursor.lastAcceptedSeq - 1, 1);
    if (row && row.seq === cursor.lastAcceptedSeq) {
      const again = toImportContact(mapProfile(row.data, limits.mapping), null);
      previousKey = again.ok ? again.key : null;
    }
  }

  let firstSeq = cursor.afterSeq + 1;
  let firstRow = true;
  let lastSeq = cursor.afterSeq;
  let lastAcceptedSeq = cursor.lastAcceptedSeq;
  const rejects: Reject[] = [];
  let rejected = 0;
  let duplicates = 0;
  let packed: PackedImport<number> | undefined;
  let after = cursor.afterSeq;
  let exhausted = false;

  scan: for (;;) {
    options.onPage?.();
    // Let timers and I/O run between pages: with SQLite a page is read synchronously, and a chunk
    // cut in one go would hold up the rate-limited requests (and heartbeats) of this process.
    if (after !== cursor.afterSeq) await yieldToEventLoop();
    const limit = options.untilSeq !== undefined ? Math.min(limits.pageSize, options.untilSeq - after) : limits.pageSize;
    if (limit <= 0) break;
    const page = await reader.readPage(runId, after, limit);
    for (const row of page) {
      if (options.untilSeq !== undefined && row.seq > options.untilSeq) break scan;
      if (firstRow) {
        firstSeq = row.seq;
        firstRow = false;
      }
      const mapped = toImportContact(mapProfile(row.data, limits.mapping), previousKey);
      if (!mapped.ok) {
        rejects.push({ snapshotSeq: row.seq, profileId: row.profileId, email: mapped.email, reason: mapped.reason });
        if (mapped.reason === 'duplicate_email') duplicates++;
        else rejected++;
        lastSeq = row.seq;
        continue;
      }
      const full = packer.add(mapped.contact, row.seq);
      if (full && full.tags[full.tags.length - 1] !== row.seq) {
        // This contact did not fit: the chunk ends just before it, and it starts the next one.
        packed = full;
        break scan;
      }
      lastSeq = row.seq;
      lastAcceptedSeq = row.seq;
      previousKey = mapped.key;
      if (full) {
        packed = full;
        break scan;
      }
    }
    if (page.length < limit) {
      exhausted = options.untilSeq === undefined;
      break;
    }
    after = page[page.length - 1].seq;
  }
  if (!packed) packed = packer.finish();
  if (packed) lastAcceptedSeq = packed.tags[packed.tags.length - 1];

  let done = exhausted;
  if (!done && options.untilSeq === undefined) done = (await reader.readPage(runId, lastSeq, 1)).length === 0;
  return { firstSeq, lastSeq, packed, rejects, rejected, duplicates, nextCursor: { afterSeq: lastSeq, lastAcceptedSeq }, done };
}
