import { copyIn, copyText, type Db } from './db';
import { ensureSqliteFunctions } from './rules';

/**
 * Mirror mode's records of a run: the list's members as read from Constant Contact after the
 * uploads, the members leaving the list (those whose normalized email is not in the run's
 * snapshot), the remove-list-memberships requests made for them, and what the guard decided.
 *
 * Contact ids and emails stay here, out of workflow history: the workflow only ever sees counts
 * and batch numbers. Removals are numbered 0..n-1 in contact id order; batch k is the seq range
 * [k*size, (k+1)*size), so any worker reads the same ids for the same batch.
 */

export type RemovalDecision = 'approved' | 'rejected' | 'timed-out' | 'not-needed';

export interface ListMemberRow {
  /** Null when the read gave no id (a contact export names none). */
  contactId: string | null;
  /** The member's email as Constant Contact gives it; its key is computed as run_snapshot.email_key is. */
  email: string | null;
}

export interface MirrorState {
  runId: string;
  listId: string;
  listMembers: number;
  plannedRemovals: number;
  decision: RemovalDecision | null;
  decidedAt: string | null;
  updatedAt: string;
}

export interface RemovalPlan {
  listMembers: number;
  plannedRemovals: number;
  batches: number;
}

export interface RemovalBatch {
  batchNo: number;
  contacts: number;
  activityId: string | null;
  state: string;
  removed: number;
  errors: number;
}

export interface RemovalTotals {
  batches: number;
  posted: number;
  done: number;
  removed: number;
  errors: number;
}

/**
 * The email key exactly as run_snapshot.email_key is computed (store/snapshots.ts): trimmed of
 * space, tab, LF and CR, then case-folded by the same function (seg_fold in SQLite, lower() in
 * PostgreSQL), empty → NULL. Computing it in SQL keeps both sides of the comparison identical.
 */
const emailKeySql = (dialect: Db['dialect']) =>
  dialect === 'postgres' ? `NULLIF(lower(btrim(?::text, E' \\t\\n\\r')), '')` : `NULLIF(seg_fold(trim(?, ' ' || char(9) || char(10) || char(13))), '')`;

const INSERT_ROWS = 500;

interface MirrorRow {
  run_id: string;
  list_id: string;
  list_members: number;
  planned_removals: number;
  decision: RemovalDecision | null;
  decided_at: string | null;
  updated_at: string;
}

interface BatchRow {
  batch_no: number;
  contacts: number;
  activity_id: string | null;
  state: string;
  removed: number;
  errors: number;
}

export class MirrorRepository {
  constructor(private readonly db: Db) {
    ensureSqliteFunctions(db);
  }

  /** Starts (or restarts) reading a run's list: forgets members read by an earlier attempt. */
  async beginListRead(runId: string, listId: string, nowIso: string): Promise<void> {
    await this.db.tx(async (tx) => {
      await tx.run('DELETE FROM run_list_members WHERE run_id = ?', [runId]);
      await tx.run(
        `INSERT INTO run_mirror (run_id, list_id, list_members, planned_removals, updated_at) VALUES (?, ?, 0, 0, ?)
         ON CONFLICT (run_id) DO UPDATE SET list_id = excluded.list_id, updated_at = excluded.updated_at`,
        [runId, listId, nowIso],
      );
    });
  }

  /**
   * Adds members read from the list, keyed by normalized email (a member already added keeps the
   * first contact id it got). Members without an email cannot be matched to a profile and are skipped.
   */
  async addListMembers(runId: string, members: readonly ListMemberRow[]): Promise<void> {
    const withEmail = members.filter((m): m is ListMemberRow & { email: string } => !!m.email && m.email.replace(/[ \t\n\r]/g, '') !== '');
    if (withEmail.length === 0) return;
    await this.db.tx(async (tx) => {
      if (tx.dialect === 'postgres') return copyListMembers(tx, runId, withEmail);
      for (let i = 0; i < withEmail.length; i += INSERT_ROWS) {
        const slice = withEmail.slice(i, i + INSERT_ROWS);
        const params: unknown[] = [];
        for (const m of slice) params.push(runId, m.email, m.contactId);
        const key = emailKeySql(tx.dialect);
        await tx.run(
          `INSERT INTO run_list_members (run_id, email_key, contact_id) VALUES ${slice.map(() => `(?, ${key}, ?)`).join(', ')}
           ON CONFLICT (run_id, email_key) DO NOTHING`,
          params,
        );
      }
    });
  }

  /** Members the list read found that are not in the run's snapshot (mirror mode would remove them). */
  async countMembersNotInSnapshot(runId: string): Promise<number> {
    const row = await this.db.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM run_list_members m
        WHERE m.run_id = ? AND NOT EXISTS (SELECT 1 FROM run_snapshot s WHERE s.run_id = m.run_id AND s.email_key = m.email_key)`,
      [runId],
    );
    return Number(row?.n ?? 0);
  }

  async countListMembers(runId: string): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM run_list_members WHERE run_id = ?', [runId]);
    return Number(row?.n ?? 0);
  }

  /**
   * Numbers the members whose email is not in the run's snapshot (members without an email leave
   * too: nothing in the snapshot can match them). Once a removal request has been made the plan is
   * frozen: a retried planning step returns it unchanged.
   */
  async planRemovals(runId: string, batchSize: number, nowIso: string): Promise<RemovalPlan> {
    return this.db.tx(async (tx) => {
      const started = await tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM run_removal_batches WHERE run_id = ?', [runId]);
      if (Number(started?.n ?? 0) === 0) {
        await tx.run('DELETE FROM run_removals WHERE run_id = ?', [runId]);
        await tx.run(
          `INSERT INTO run_removals (run_id, seq, email_key, contact_id)
           SELECT m.run_id, ROW_NUMBER() OVER (ORDER BY m.email_key) - 1, m.email_key, m.contact_id
             FROM run_list_members m
            WHERE m.run_id = ?
              AND NOT EXISTS (SELECT 1 FROM run_snapshot s WHERE s.run_id = m.run_id AND s.email_key = m.email_key)`,
          [runId],
        );
        const members = await tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM run_list_members WHERE run_id = ?', [runId]);
        const planned = await tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM run_removals WHERE run_id = ?', [runId]);
        await tx.run('UPDATE run_mirror SET list_members = ?, planned_removals = ?, updated_at = ? WHERE run_id = ?', [
          Number(members?.n ?? 0),
          Number(planned?.n ?? 0),
          nowIso,
          runId,
        ]);
      }
      const state = await tx.get<MirrorRow>('SELECT * FROM run_mirror WHERE run_id = ?', [runId]);
      if (!state) throw new Error(`no mirror state for run ${runId}`);
      const plannedRemovals = Number(state.planned_removals);
      return { listMembers: Number(state.list_members), plannedRemovals, batches: Math.ceil(plannedRemovals / batchSize) };
    });
  }

  /** Removal batch `batchNo` (at most batchSize): the planned removals whose contact id is known, in seq order. */
  async removalBatch(runId: string, batchNo: number, batchSize: number): Promise<{ contactId: string; emailKey: string }[]> {
    const rows = await this.db.all<{ contact_id: string; email_key: string }>(
      'SELECT contact_id, email_key FROM run_removals WHERE run_id = ? AND contact_id IS NOT NULL ORDER BY seq LIMIT ? OFFSET ?',
      [runId, batchSize, batchNo * batchSize],
    );
    return rows.map((r) => ({ contactId: r.contact_id, emailKey: r.email_key }));
  }

  /** Planned removals without a contact id yet (their email keys). */
  async removalsWithoutId(runId: string): Promise<string[]> {
    const rows = await this.db.all<{ email_key: string }>('SELECT email_key FROM run_removals WHERE run_id = ? AND contact_id IS NULL ORDER BY seq', [runId]);
    return rows.map((r) => r.email_key);
  }

  /**
   * Gives the list's members, then the planned removals, the contact ids found for their emails
   * (raw emails, keyed as the list read keys them; members by their primary key, removals in one
   * statement).
   */
  async setRemovalIds(runId: string, found: readonly { email: string; contactId: string }[]): Promise<void> {
    await this.db.tx(async (tx) => {
      const key = emailKeySql(tx.dialect);
      for (const f of found) {
        await tx.run(`UPDATE run_list_members SET contact_id = ? WHERE run_id = ? AND email_key = ${key} AND contact_id IS NULL`, [f.contactId, runId, f.email]);
      }
      await tx.run(
        `UPDATE run_removals SET contact_id = (SELECT m.contact_id FROM run_list_members m WHERE m.run_id = run_removals.run_id AND m.email_key = run_removals.email_key)
          WHERE run_id = ? AND contact_id IS NULL`,
        [runId],
      );
    });
  }

  /** Removals whose contact id is known: what the batches cover. */
  async countRemovalsWithId(runId: string): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM run_removals WHERE run_id = ? AND contact_id IS NOT NULL', [runId]);
    return Number(row?.n ?? 0);
  }

  /** Fills planned removals' contact ids from the ledger of the export and list. */
  async idsFromLedger(runId: string, exportId: string, listId: string): Promise<void> {
    await this.db.run(
      `UPDATE run_removals SET contact_id = (SELECT l.contact_id FROM delivery_ledger l WHERE l.export_id = ? AND l.list_id = ? AND l.email_key = run_removals.email_key)
        WHERE run_id = ? AND contact_id IS NULL`,
      [exportId, listId, runId],
    );
  }

  async getBatch(runId: string, batchNo: number): Promise<RemovalBatch | null> {
    const row = await this.db.get<BatchRow>('SELECT * FROM run_removal_batches WHERE run_id = ? AND batch_no = ?', [runId, batchNo]);
    return row ? toBatch(row) : null;
  }

  /** Records the remove-list-memberships request of a batch (once: a second record keeps the first). */
  async recordBatchPosted(runId: string, batchNo: number, contacts: number, activityId: string): Promise<RemovalBatch> {
    await this.db.run(
      `INSERT INTO run_removal_batches (run_id, batch_no, contacts, activity_id, state) VALUES (?, ?, ?, ?, 'initialized')
       ON CONFLICT (run_id, batch_no) DO NOTHING`,
      [runId, batchNo, contacts, activityId],
    );
    return (await this.getBatch(runId, batchNo))!;
  }

  /** Records what Constant Contact said of a batch's activity once it is terminal. */
  async recordBatchDone(runId: string, batchNo: number, result: { state: string; removed: number; errors: number }): Promise<void> {
    await this.db.run('UPDATE run_removal_batches SET state = ?, removed = ?, errors = ? WHERE run_id = ? AND batch_no = ?', [
      result.state,
      result.removed,
      result.errors,
      runId,
      batchNo,
    ]);
  }

  async totals(runId: string): Promise<RemovalTotals> {
    const row = await this.db.get<{ batches: number; posted: number; done: number; removed: number; errors: number }>(
      `SELECT COUNT(*) AS batches,
              COALESCE(SUM(CASE WHEN activity_id IS NOT NULL THEN 1 ELSE 0 END), 0) AS posted,
              COALESCE(SUM(CASE WHEN state IN ('completed', 'cancelled', 'failed', 'timed_out') THEN 1 ELSE 0 END), 0) AS done,
              COALESCE(SUM(removed), 0) AS removed,
              COALESCE(SUM(errors), 0) AS errors
         FROM run_removal_batches WHERE run_id = ?`,
      [runId],
    );
    return {
      batches: Number(row?.batches ?? 0),
      posted: Number(row?.posted ?? 0),
      done: Number(row?.done ?? 0),
      removed: Number(row?.removed ?? 0),
      errors: Number(row?.errors ?? 0),
    };
  }

  /** Records the guard's outcome; the first decision stays (a retried activity cannot change it). */
  async recordDecision(runId: string, decision: RemovalDecision, nowIso: string): Promise<RemovalDecision> {
    await this.db.run('UPDATE run_mirror SET decision = ?, decided_at = ?, updated_at = ? WHERE run_id = ? AND decision IS NULL', [
      decision,
      nowIso,
      nowIso,
      runId,
    ]);
    const state = await this.get(runId);
    return state?.decision ?? decision;
  }

  async get(runId: string): Promise<MirrorState | null> {
    const row = await this.db.get<MirrorRow>('SELECT * FROM run_mirror WHERE run_id = ?', [runId]);
    if (!row) return null;
    return {
      runId: row.run_id,
      listId: row.list_id,
      listMembers: Number(row.list_members),
      plannedRemovals: Number(row.planned_removals),
      decision: row.decision,
      decidedAt: row.decided_at,
      updatedAt: row.updated_at,
    };
  }

  /** Drops the copy of the list once the run no longer needs it (emails are kept no longer than needed). */
  async forgetListMembers(runId: string): Promise<void> {
    await this.db.run('DELETE FROM run_list_members WHERE run_id = ?', [runId]);
  }
}

function toBatch(row: BatchRow): RemovalBatch {
  return {
    batchNo: Number(row.batch_no),
    contacts: Number(row.contacts),
    activityId: row.activity_id,
    state: row.state,
    removed: Number(row.removed),
    errors: Number(row.errors),
  };
}

/**
 * PostgreSQL: a list read's members by COPY into a per-transaction staging table, then keyed and
 * inserted in one statement (a 1M-member list read spent most of its time in multi-row INSERTs).
 * A contact id is staged as '' when the read gave none.
 */
async function copyListMembers(tx: Db, runId: string, members: readonly { email: string; contactId: string | null }[]): Promise<void> {
  await tx.run('CREATE TEMPORARY TABLE IF NOT EXISTS list_member_staging (email TEXT NOT NULL, contact_id TEXT NOT NULL) ON COMMIT DELETE ROWS');
  await copyIn(tx, 'COPY list_member_staging (email, contact_id) FROM STDIN', copyText(members.map((m) => [m.email, m.contactId ?? ''])));
  await tx.run(
    `INSERT INTO run_list_members (run_id, email_key, contact_id)
     SELECT ?, k, NULLIF(contact_id, '') FROM (SELECT NULLIF(lower(btrim(email, E' \\t\\n\\r')), '') AS k, contact_id FROM list_member_staging) s
      WHERE k IS NOT NULL
     ON CONFLICT (run_id, email_key) DO NOTHING`,
    [runId],
  );
}
