import { jsonColumn, type Db } from './db';
import { emptyCounts, type Reject, type RejectReason, type RunCounts } from './types';

export type ChunkState = 'prepared' | 'uploaded' | 'empty' | 'completed' | 'failed' | 'cancelled' | 'timed_out';
/** Chunk states after which nothing more happens to the chunk. */
export const finishedChunkStates: readonly ChunkState[] = ['empty', 'completed', 'failed', 'cancelled', 'timed_out'];

export interface RunChunk {
  runId: string;
  chunkNo: number;
  /** The snapshot range this chunk covers, both ends included (contacts, rejects and duplicates). */
  firstSeq: number;
  lastSeq: number;
  contacts: number;
  bytes: number;
  rejected: number;
  duplicates: number;
  /** Constant Contact's import activity id, once the import was posted. */
  activityId: string | null;
  state: ChunkState;
  imported: number;
  unsubscribed: number;
  ccErrors: number;
  /** Of `contacts`: new to the ledger, and changed since delivered. */
  added: number;
  updated: number;
  /** Profiles of the range not sent: unchanged, and suppressed (left the list). */
  unchanged: number;
  suppressed: number;
}

/** A chunk as recorded before its import is posted (the ledger's counts default to 0). */
export type NewChunk = Omit<RunChunk, 'activityId' | 'imported' | 'unsubscribed' | 'ccErrors' | 'added' | 'updated' | 'unchanged' | 'suppressed'> &
  Partial<Pick<RunChunk, 'added' | 'updated' | 'unchanged' | 'suppressed'>>;

interface ChunkRow {
  run_id: string;
  chunk_no: number;
  first_seq: number;
  last_seq: number;
  contacts: number;
  bytes: number;
  rejected: number;
  duplicates: number;
  activity_id: string | null;
  state: ChunkState;
  imported: number;
  unsubscribed: number;
  cc_errors: number;
  added: number;
  updated: number;
  unchanged: number;
  suppressed: number;
}

function toChunk(row: ChunkRow): RunChunk {
  return {
    runId: row.run_id,
    chunkNo: Number(row.chunk_no),
    firstSeq: Number(row.first_seq),
    lastSeq: Number(row.last_seq),
    contacts: Number(row.contacts),
    bytes: Number(row.bytes),
    rejected: Number(row.rejected),
    duplicates: Number(row.duplicates),
    activityId: row.activity_id,
    state: row.state,
    imported: Number(row.imported),
    unsubscribed: Number(row.unsubscribed),
    ccErrors: Number(row.cc_errors),
    added: Number(row.added),
    updated: Number(row.updated),
    unchanged: Number(row.unchanged),
    suppressed: Number(row.suppressed),
  };
}

/**
 * A run's chunks (one row per import request) and its rejects. The run's counts are the sums of its
 * chunks (`refreshCounts`), so a retried upload or poll never counts anything twice.
 */
export class RunChunkRepository {
  constructor(protected readonly db: Db) {}

  async getChunk(runId: string, chunkNo: number): Promise<RunChunk | undefined> {
    const row = await this.db.get<ChunkRow>('SELECT * FROM run_chunks WHERE run_id = ? AND chunk_no = ?', [runId, chunkNo]);
    return row ? toChunk(row) : undefined;
  }

  async chunks(runId: string): Promise<RunChunk[]> {
    const rows = await this.db.all<ChunkRow>('SELECT * FROM run_chunks WHERE run_id = ? ORDER BY chunk_no', [runId]);
    return rows.map(toChunk);
  }

  /**
   * Records a chunk before its import is posted, with its rejects, in one transaction. Idempotent:
   * a chunk or reject recorded already (a retried activity) stays as it is. Answers the stored chunk.
   */
  async saveChunk(
    chunk: NewChunk,
    rejects: readonly Reject[],
    alsoRecord?: (tx: Db) => Promise<void>,
  ): Promise<RunChunk> {
    return this.db.tx(async (tx) => {
      const existing = await tx.get<ChunkRow>('SELECT * FROM run_chunks WHERE run_id = ? AND chunk_no = ?', [chunk.runId, chunk.chunkNo]);
      if (existing) return toChunk(existing);
      await this.insertRejects(tx, chunk.runId, rejects);
      await alsoRecord?.(tx);
      await tx.run(
        `INSERT INTO run_chunks (run_id, chunk_no, first_seq, last_seq, contacts, bytes, rejected, duplicates, state, added, updated, unchanged, suppressed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, chunk_no) DO NOTHING`,
        [chunk.runId, chunk.chunkNo, chunk.firstSeq, chunk.lastSeq, chunk.contacts, chunk.bytes, chunk.rejected, chunk.duplicates, chunk.state, chunk.added ?? 0, chunk.updated ?? 0, chunk.unchanged ?? 0, chunk.suppressed ?? 0],
      );
      await this.refreshCounts(tx, chunk.runId);
      const row = await tx.get<ChunkRow>('SELECT * FROM run_chunks WHERE run_id = ? AND chunk_no = ?', [chunk.runId, chunk.chunkNo]);
      return toChunk(row!);
    });
  }

  /** Stores the import activity id of a posted chunk (the first one stored wins). */
  async setChunkActivity(runId: string, chunkNo: number, activityId: string): Promise<RunChunk> {
    await this.db.run(
      `UPDATE run_chunks SET activity_id = ?, state = 'uploaded' WHERE run_id = ? AND chunk_no = ? AND activity_id IS NULL`,
      [activityId, runId, chunkNo],
    );
    return (await this.getChunk(runId, chunkNo))!;
  }

  /** Records what Constant Contact said of a finished import and recomputes the run's counts. */
  async finishChunk(
    runId: string,
    chunkNo: number,
    result: { state: ChunkState; imported: number; unsubscribed: number; ccErrors: number },
    alsoRecord?: (tx: Db) => Promise<void>,
  ): Promise<void> {
    await this.db.tx(async (tx) => {
      await alsoRecord?.(tx);
      await tx.run(
        `UPDATE run_chunks SET state = ?, imported = ?, unsubscribed = ?, cc_errors = ? WHERE run_id = ? AND chunk_no = ?`,
        [result.state, result.imported, result.unsubscribed, result.ccErrors, runId, chunkNo],
      );
      await this.refreshCounts(tx, runId);
    });
  }

  /** Recomputes a run's counts and chunksDone from its chunks (sums, so retries never double-count). */
  async refreshCounts(db: Db, runId: string): Promise<void> {
    const sums = await db.get<Record<string, number | null>>(
      `SELECT COALESCE(SUM(contacts), 0) AS sent, COALESCE(SUM(rejected), 0) AS rejected,
              COALESCE(SUM(duplicates), 0) AS duplicates, COALESCE(SUM(imported), 0) AS imported,
              COALESCE(SUM(unsubscribed), 0) AS unsubscribed, COALESCE(SUM(cc_errors), 0) AS cc_errors,
              COALESCE(SUM(added), 0) AS added, COALESCE(SUM(updated), 0) AS updated,
              COALESCE(SUM(unchanged), 0) AS unchanged, COALESCE(SUM(suppressed), 0) AS suppressed,
              COUNT(*) AS chunks,
              COALESCE(SUM(CASE WHEN state IN ('empty', 'completed', 'failed', 'cancelled', 'timed_out') THEN 1 ELSE 0 END), 0) AS done
         FROM run_chunks WHERE run_id = ?`,
      [runId],
    );
    const row = await db.get<{ counts: unknown; chunks_total: number }>('SELECT counts, chunks_total FROM runs WHERE id = ?', [runId]);
    if (!row || !sums) return;
    const counts: RunCounts = {
      ...emptyCounts(),
      ...(jsonColumn<Partial<RunCounts>>(row.counts)),
      sent: Number(sums.sent),
      rejected: Number(sums.rejected),
      duplicates: Number(sums.duplicates),
      imported: Number(sums.imported),
      unsubscribed: Number(sums.unsubscribed),
      constantContactErrors: Number(sums.cc_errors),
      added: Number(sums.added),
      updated: Number(sums.updated),
      unchanged: Number(sums.unchanged),
      suppressed: Number(sums.suppressed),
      suppressedByReason: { left_list: Number(sums.suppressed) },
    };
    // The total is an estimate until the last chunk is cut; it never shows fewer chunks than exist.
    const total = Math.max(Number(row.chunks_total), Number(sums.chunks));
    await db.run('UPDATE runs SET counts = ?, chunks_done = ?, chunks_total = ? WHERE id = ?', [
      JSON.stringify(counts),
      Number(sums.done),
      total,
      runId,
    ]);
  }

  // ------------------------------------------------------------------ rejects

  protected async insertRejects(db: Db, runId: string, rejects: readonly Reject[]): Promise<void> {
    const batch = 500;
    for (let i = 0; i < rejects.length; i += batch) {
      const part = rejects.slice(i, i + batch);
      const params: unknown[] = [];
      for (const r of part) params.push(runId, r.snapshotSeq, r.profileId, r.email, r.reason);
      await db.run(
        `INSERT INTO run_rejects (run_id, snapshot_seq, profile_id, email, reason)
         VALUES ${part.map(() => '(?, ?, ?, ?, ?)').join(', ')}
         ON CONFLICT (run_id, snapshot_seq) DO NOTHING`,
        params,
      );
    }
  }

  /** The run's rejects in snapshot order, read in pages (a run may have many). */
  async *rejects(runId: string, pageSize = 1000): AsyncGenerator<Reject> {
    let after = -1;
    for (;;) {
      const rows = await this.db.all<{ snapshot_seq: number; profile_id: string; email: string | null; reason: RejectReason }>(
        `SELECT snapshot_seq, profile_id, email, reason FROM run_rejects WHERE run_id = ? AND snapshot_seq > ? ORDER BY snapshot_seq LIMIT ?`,
        [runId, after, pageSize],
      );
      for (const r of rows) yield { snapshotSeq: Number(r.snapshot_seq), profileId: r.profile_id, email: r.email, reason: r.reason };
      if (rows.length < pageSize) return;
      after = Number(rows[rows.length - 1].snapshot_seq);
    }
  }

  async countRejects(runId: string): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM run_rejects WHERE run_id = ?', [runId]);
    return Number(row?.n ?? 0);
  }
}
