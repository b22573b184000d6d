import { decodeCursor, encodeCursor } from '../common/paging';
import type { Db } from './db';
import {
  emptyCounts,
  type Page,
  type Reject,
  type RejectReason,
  type Run,
  type RunCounts,
  type RunError,
  type RunOptions,
  type RunPhase,
  type RunPlan,
  type RunStatus,
  type RunTrigger,
} from './types';

/**
 * Runs, their chunks (one row per import request) and their rejects.
 *
 * The counts of a run live in its chunks: every upload or poll writes its own chunk row and the
 * run's `counts` are recomputed from the sums, so a retried activity never counts anything twice.
 * `segmentProfiles`, `removed` and `plannedRemovals` are set directly (they do not come from chunks).
 */

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

export interface RunRecord extends Run {
  /** Chunks whose import was posted (or that had nothing to post): for progress. */
  chunksUploaded: number;
}

export interface NewRun {
  id: string;
  exportId: string;
  trigger: RunTrigger;
  workflowId: string;
  startedAt: string;
  options?: RunOptions;
}

export type CreateRunResult = { created: true; run: RunRecord } | { created: false; runningRunId: string };

interface RunRow {
  id: string;
  export_id: string;
  status: RunStatus;
  trigger: RunTrigger;
  started_at: string;
  finished_at: string | null;
  workflow_id: string;
  phase: RunPhase;
  chunks_done: number;
  chunks_total: number;
  counts: unknown;
  error_code: string | null;
  error_message: string | null;
  chunks_uploaded: number;
  dry_run: number | boolean;
  full_resync: number | boolean;
  plan: unknown;
}

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

const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);

const SELECT_RUN = `SELECT r.*,
  (SELECT COUNT(*) FROM run_chunks c WHERE c.run_id = r.id AND (c.activity_id IS NOT NULL OR c.state = 'empty')) AS chunks_uploaded
  FROM runs r`;

function toRun(row: RunRow): RunRecord {
  return {
    id: row.id,
    exportId: row.export_id,
    status: row.status,
    trigger: row.trigger,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    workflowId: row.workflow_id,
    phase: row.phase,
    chunksDone: Number(row.chunks_done),
    chunksTotal: Number(row.chunks_total),
    counts: { ...emptyCounts(), ...(json(row.counts) as Partial<RunCounts>) },
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    chunksUploaded: Number(row.chunks_uploaded ?? 0),
    dryRun: Number(row.dry_run) === 1 || row.dry_run === true,
    fullResync: Number(row.full_resync) === 1 || row.full_resync === true,
    plan: row.plan ? (json(row.plan) as RunPlan) : null,
  };
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

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export class RunRepository {
  constructor(private readonly db: Db) {}

  /**
   * Inserts a running run, unless the export has one running already (the partial unique index
   * `runs_one_running` decides, whoever starts it): then answers the running run's id.
   */
  async createRunning(run: NewRun, phase: RunPhase = 'validating'): Promise<CreateRunResult> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.db.run(
          `INSERT INTO runs (id, export_id, status, trigger, started_at, workflow_id, phase, counts, dry_run, full_resync)
           VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)`,
          [run.id, run.exportId, run.trigger, run.startedAt, run.workflowId, phase, JSON.stringify(emptyCounts()), run.options?.dryRun ? 1 : 0, run.options?.fullResync ? 1 : 0],
        );
        return { created: true, run: (await this.get(run.id))! };
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
        const running = await this.running(run.exportId);
        if (running) return { created: false, runningRunId: running.id };
        // The running run finished between the insert and the read: try again.
      }
    }
    throw new Error('could not insert the run: the export keeps having a running run');
  }

  /**
   * A run that was not started (a scheduled start while another run was going, …), with the reason
   * in `error`. Idempotent by id: a second call with the same id answers the first record.
   */
  async createSkipped(run: NewRun, reason: RunError): Promise<RunRecord> {
    await this.db.run(
      `INSERT INTO runs (id, export_id, status, trigger, started_at, finished_at, workflow_id, phase, counts, error_code, error_message)
       VALUES (?, ?, 'skipped', ?, ?, ?, ?, 'done', ?, ?, ?)
       ON CONFLICT (id) DO NOTHING`,
      [run.id, run.exportId, run.trigger, run.startedAt, run.startedAt, run.workflowId, JSON.stringify(emptyCounts()), reason.code, reason.message],
    );
    return (await this.get(run.id))!;
  }

  async get(id: string): Promise<RunRecord | undefined> {
    const row = await this.db.get<RunRow>(`${SELECT_RUN} WHERE r.id = ?`, [id]);
    return row ? toRun(row) : undefined;
  }

  /** The export's running run, if any (dry runs do not count: they change nothing). */
  async running(exportId: string): Promise<RunRecord | undefined> {
    const row = await this.db.get<RunRow>(`${SELECT_RUN} WHERE r.export_id = ? AND r.status = 'running' AND r.dry_run = 0`, [exportId]);
    return row ? toRun(row) : undefined;
  }

  /** Every running run (for operators and for repairing runs whose workflow is gone). */
  async allRunning(limit = 1000): Promise<RunRecord[]> {
    const rows = await this.db.all<RunRow>(`${SELECT_RUN} WHERE r.status = 'running' ORDER BY r.started_at LIMIT ?`, [limit]);
    return rows.map(toRun);
  }

  /** The export's runs, newest first, keyset-paged by (startedAt, id). */
  async listByExport(exportId: string, options: { limit: number; cursor?: string }): Promise<Page<RunRecord>> {
    const params: unknown[] = [exportId];
    let where = 'r.export_id = ?';
    const position = decodeCursor(options.cursor, 2);
    if (position) {
      const [startedAt, id] = position;
      where += ' AND (r.started_at < ? OR (r.started_at = ? AND r.id < ?))';
      params.push(startedAt, startedAt, id);
    }
    params.push(options.limit + 1);
    const rows = await this.db.all<RunRow>(`${SELECT_RUN} WHERE ${where} ORDER BY r.started_at DESC, r.id DESC LIMIT ?`, params);
    const items = rows.slice(0, options.limit).map(toRun);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > options.limit && last ? encodeCursor([last.startedAt, last.id]) : null };
  }

  /** Sets the phase of a running run; a finished run is left alone. */
  async setPhase(runId: string, phase: RunPhase): Promise<void> {
    await this.db.run(`UPDATE runs SET phase = ? WHERE id = ? AND status = 'running'`, [phase, runId]);
  }

  /** Stores a dry run's plan. */
  async setPlan(runId: string, plan: RunPlan): Promise<void> {
    await this.db.run('UPDATE runs SET plan = ? WHERE id = ?', [JSON.stringify(plan), runId]);
  }

  async setChunksTotal(runId: string, chunksTotal: number): Promise<void> {
    await this.db.run(`UPDATE runs SET chunks_total = ? WHERE id = ? AND status = 'running'`, [chunksTotal, runId]);
  }

  /** Sets counts that do not come from chunks (segmentProfiles, removed, plannedRemovals). */
  async setCounts(runId: string, patch: Partial<Pick<RunCounts, 'segmentProfiles' | 'removed' | 'plannedRemovals'>>): Promise<void> {
    await this.db.tx(async (tx) => {
      const row = await tx.get<{ counts: unknown }>('SELECT counts FROM runs WHERE id = ?', [runId]);
      if (!row) return;
      const counts = { ...emptyCounts(), ...(json(row.counts) as Partial<RunCounts>), ...patch };
      await tx.run('UPDATE runs SET counts = ? WHERE id = ?', [JSON.stringify(counts), runId]);
    });
  }

  // ------------------------------------------------------------------ chunks

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
      ...(json(row.counts) as Partial<RunCounts>),
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

  // ------------------------------------------------------------------ finishing

  /**
   * Ends a running run: status, finishedAt, phase done, error, counts from its chunks. A run that
   * is not running any more is left as it is (a retried finalize). Answers the run as stored.
   */
  async finish(runId: string, end: { status: Exclude<RunStatus, 'running' | 'skipped'>; error: RunError | null; finishedAt: string; chunksTotal?: number }): Promise<RunRecord | undefined> {
    await this.db.tx(async (tx) => {
      const row = await tx.get<{ status: RunStatus }>('SELECT status FROM runs WHERE id = ?', [runId]);
      if (!row || row.status !== 'running') return;
      if (end.chunksTotal !== undefined) await tx.run('UPDATE runs SET chunks_total = ? WHERE id = ?', [end.chunksTotal, runId]);
      await this.refreshCounts(tx, runId);
      await tx.run(
        `UPDATE runs SET status = ?, finished_at = ?, phase = 'done', error_code = ?, error_message = ? WHERE id = ? AND status = 'running'`,
        [end.status, end.finishedAt, end.error?.code ?? null, end.error?.message ?? null, runId],
      );
    });
    return this.get(runId);
  }

  // ------------------------------------------------------------------ rejects

  private async insertRejects(db: Db, runId: string, rejects: readonly Reject[]): Promise<void> {
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
