import { decodeCursor, keysetPage } from '../common/paging';
import { jsonColumn } from './db';
import { RunChunkRepository } from './run-chunks';
import {
  emptyCounts,
  type Page,
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
 * Runs. Their chunks (one row per import request) and rejects are in run-chunks.ts.
 *
 * The counts of a run live in its chunks: every upload or poll writes its own chunk row and the
 * run's `counts` are recomputed from the sums, so a retried activity never counts anything twice.
 * `segmentProfiles`, `removed` and `plannedRemovals` are set directly (they do not come from chunks).
 */

// Callers of store.runs import the chunk types from here too.
export type { ChunkState, RunChunk } from './run-chunks';

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
    counts: { ...emptyCounts(), ...(jsonColumn<Partial<RunCounts>>(row.counts)) },
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    chunksUploaded: Number(row.chunks_uploaded ?? 0),
    dryRun: Number(row.dry_run) === 1 || row.dry_run === true,
    fullResync: Number(row.full_resync) === 1 || row.full_resync === true,
    plan: row.plan ? (jsonColumn<RunPlan>(row.plan)) : null,
  };
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Runs; their chunks and rejects through `RunChunkRepository`, so `store.runs` answers both. */
export class RunRepository extends RunChunkRepository {
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
    const [row] = await this.db.allShared<RunRow>(`${SELECT_RUN} WHERE r.id = ?`, [id]);
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
    const page = keysetPage(rows, options.limit, (last) => [last.started_at, last.id]);
    return { items: page.rows.map(toRun), nextCursor: page.nextCursor };
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
      const counts = { ...emptyCounts(), ...(jsonColumn<Partial<RunCounts>>(row.counts)), ...patch };
      await tx.run('UPDATE runs SET counts = ? WHERE id = ?', [JSON.stringify(counts), runId]);
    });
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

}
