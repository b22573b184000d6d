import { ImportPacker, type PackedImport } from '../constant-contact/packing';
import type { Mapping, Reject } from '../store/types';
import { mapProfile, toImportContact } from './contacts';
import { classify, type LedgerView } from './classify';
import { deliveryHash } from './delivery-hash';
import type { Delivery, LedgerMarks, Suppression } from '../store/ledger';

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
  /** The ledger's entry and the list read, when the run classifies (absent: every contact is sent). */
  delivered?: LedgerView['delivered'];
  onList?: boolean;
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
  /** Rows one chunk covers at most (a chunk of unchanged contacts posts nothing and ends here). */
  maxRows?: number;
  /** Classify against the ledger: only new and changed contacts are packed. */
  ledger?: { mappingDigest: string; fullResync: boolean };
}

export interface CutChunk {
  /** The snapshot range covered, both ends included; firstSeq > lastSeq when no row was left. */
  firstSeq: number;
  lastSeq: number;
  /** The import body, or undefined when no contact of the range is to be sent. */
  packed: PackedImport<number> | undefined;
  rejects: Reject[];
  rejected: number;
  duplicates: number;
  /** The contacts packed, for the ledger once their import completes. */
  deliveries: Delivery[];
  added: number;
  updated: number;
  unchanged: number;
  suppressions: Suppression[];
  marks: LedgerMarks;
  nextCursor: ChunkCursor;
  /** No snapshot row after lastSeq. */
  done: boolean;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Called between pages (heartbeats, cancellation checks). */
export type PageHook = () => void;

/** A packed contact's ledger entry and whether it is new to the ledger. */
interface PackedDelivery extends Delivery {
  added: boolean;
}

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
  const delivered = new Map<number, PackedDelivery>();
  let unchanged = 0;
  const suppressions: Suppression[] = [];
  const marks: LedgerMarks = { left: [], rejoined: [] };
  let packed: PackedImport<number> | undefined;
  let after = cursor.afterSeq;
  let exhausted = false;
  let rows = 0;
  const maxRows = limits.maxRows ?? Infinity;

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
      if (rows >= maxRows) break scan;
      rows++;
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
      const json = JSON.stringify(mapped.contact);
      const hash = limits.ledger ? deliveryHash(limits.ledger.mappingDigest, json) : '';
      const verdict = limits.ledger && row.emailKey ? classify({ delivered: row.delivered ?? null, onList: row.onList ?? false }, hash, limits.ledger.fullResync) : 'new';
      if (verdict === 'unchanged' || verdict === 'left') {
        if (verdict === 'left') {
          suppressions.push({ snapshotSeq: row.seq, profileId: row.profileId, email: mapped.contact.email ?? null, reason: 'left_list' });
          if (row.delivered?.state !== 'left') marks.left.push(row.emailKey!);
        } else {
          unchanged++;
          if (row.delivered?.state === 'left') marks.rejoined.push(row.emailKey!);
        }
        lastSeq = row.seq;
        lastAcceptedSeq = row.seq;
        previousKey = mapped.key;
        continue;
      }
      const full = packer.addJson(json, row.seq);
      if (full && full.tags[full.tags.length - 1] !== row.seq) {
        // This contact did not fit: the chunk ends just before it, and it starts the next one.
        packed = full;
        break scan;
      }
      if (row.emailKey) delivered.set(row.seq, { emailKey: row.emailKey, hash, added: verdict === 'new' });
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

  const deliveries: Delivery[] = [];
  let added = 0;
  for (const seq of packed?.tags ?? []) {
    const d = delivered.get(seq);
    if (!d) continue;
    deliveries.push({ emailKey: d.emailKey, hash: d.hash });
    if (d.added) added++;
  }
  const sent = packed?.contacts ?? 0;

  let done = exhausted;
  if (!done && options.untilSeq === undefined) done = (await reader.readPage(runId, lastSeq, 1)).length === 0;
  return {
    firstSeq,
    lastSeq,
    packed,
    rejects,
    rejected,
    duplicates,
    deliveries,
    added,
    updated: sent - added,
    unchanged,
    suppressions,
    marks,
    nextCursor: { afterSeq: lastSeq, lastAcceptedSeq },
    done,
  };
}
