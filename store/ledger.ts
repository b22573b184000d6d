import { copyIn, copyText, insertRows, MAX_ROWS_PER_INSERT, type Db } from './db';
import type { Attributes, Reject } from './types';

/**
 * The delivery ledger: per export and list, every contact the export delivered (normalized email,
 * a hash of exactly what was sent, the Constant Contact contact id once known, its state and the
 * run that last changed it). A contact enters or changes here only when the import that carried it
 * completed in Constant Contact; until then its row waits in run_deliveries under its chunk.
 *
 * Email keys are the snapshot's (store/snapshots.ts) and the list read's (store/mirror.ts): both
 * computed by the same SQL, so the three tables join on them.
 */

export type LedgerState = 'on-list' | 'removed-by-us' | 'left';

export interface LedgerKey {
  exportId: string;
  listId: string;
}

/** A snapshot row with what the ledger and the list read of this run say about its email. */
export interface ClassifiableRow {
  seq: number;
  profileId: string;
  emailKey: string | null;
  data: Attributes;
  delivered: { hash: string; state: LedgerState } | null;
  /** The email is a member of the list as read at the start of this run. */
  onList: boolean;
}

/** A contact a chunk carries: recorded delivered when the chunk's import completes. */
export interface Delivery {
  emailKey: string;
  hash: string;
}

export type SuppressionReason = 'left_list';

export interface Suppression extends Omit<Reject, 'reason'> {
  reason: SuppressionReason;
}

/** What a chunk changes in the ledger as soon as it is recorded (states only, never a delivery). */
export interface LedgerMarks {
  /** Delivered before, no longer on the list, not removed by us: they left by themselves. */
  left: string[];
  /** Marked left before and on the list again (they joined again). */
  rejoined: string[];
}


export class LedgerRepository {
  constructor(private readonly db: Db) {}

  /** Snapshot rows after `afterSeq` with their ledger entry and list membership, in seq order. */
  async readPage(runId: string, key: LedgerKey, afterSeq: number, limit: number): Promise<ClassifiableRow[]> {
    // The page first, then one lookup by primary key per row (scalar subqueries): whatever the
    // planner's statistics say, a page never joins whole tables.
    const rows = await this.db.all<{ seq: number; profile_id: string; email_key: string | null; data: string; delivered: string | null; on_list: number | null }>(
      `SELECT s.seq, s.profile_id, s.email_key, s.data,
              (SELECT l.state || ' ' || l.hash FROM delivery_ledger l WHERE l.export_id = ? AND l.list_id = ? AND l.email_key = s.email_key) AS delivered,
              (SELECT 1 FROM run_list_members m WHERE m.run_id = s.run_id AND m.email_key = s.email_key) AS on_list
         FROM (SELECT run_id, seq, profile_id, email_key, data FROM run_snapshot WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?) s
        ORDER BY s.seq`,
      [key.exportId, key.listId, runId, afterSeq, limit],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      profileId: r.profile_id,
      emailKey: r.email_key,
      data: JSON.parse(r.data) as Attributes,
      delivered: r.delivered ? deliveredOf(r.delivered) : null,
      onList: Number(r.on_list) === 1,
    }));
  }

  /** Records a chunk's contacts, its suppressions and its state marks (inside the chunk's transaction). */
  async recordChunk(tx: Db, input: { runId: string; chunkNo: number; key: LedgerKey; deliveries: readonly Delivery[]; suppressions: readonly Suppression[]; marks: LedgerMarks; now: string }): Promise<void> {
    const { runId, chunkNo } = input;
    await this.insertDeliveries(tx, runId, chunkNo, input.deliveries);
    await insertRows(tx, 'run_suppressions (run_id, snapshot_seq, profile_id, email, reason)', 'ON CONFLICT (run_id, snapshot_seq) DO NOTHING', input.suppressions, (s) => [runId, s.snapshotSeq, s.profileId, s.email, s.reason]);
    await this.setStates(tx, input.key, input.marks.left, 'left', runId, input.now);
    await this.setStates(tx, input.key, input.marks.rejoined, 'on-list', runId, input.now);
  }

  /**
   * A chunk's import ended: completed, its contacts become delivered (on the list, with the hash
   * sent); otherwise they stay as they were, so the next run sends them again.
   */
  async settleChunk(tx: Db, input: { runId: string; chunkNo: number; key: LedgerKey; completed: boolean; now: string }): Promise<void> {
    const { runId, chunkNo, key, now } = input;
    if (input.completed) {
      await tx.run(
        `INSERT INTO delivery_ledger (export_id, list_id, email_key, hash, contact_id, state, run_id, updated_at)
         SELECT ?, ?, d.email_key, d.hash, NULL, 'on-list', d.run_id, ? FROM run_deliveries d WHERE d.run_id = ? AND d.chunk_no = ?
         ON CONFLICT (export_id, list_id, email_key) DO UPDATE
           SET hash = excluded.hash, state = 'on-list', run_id = excluded.run_id, updated_at = excluded.updated_at`,
        [key.exportId, key.listId, now, runId, chunkNo],
      );
    }
    await tx.run('DELETE FROM run_deliveries WHERE run_id = ? AND chunk_no = ?', [runId, chunkNo]);
  }

  /** Contacts mirror mode took off the list: such a contact re-entering the segment is added again. */
  async markRemoved(key: LedgerKey, emailKeys: readonly string[], runId: string, now: string): Promise<void> {
    await this.db.tx(async (tx) => {
      await insertRows(
        tx,
        'delivery_ledger (export_id, list_id, email_key, hash, contact_id, state, run_id, updated_at)',
        `ON CONFLICT (export_id, list_id, email_key) DO UPDATE SET state = 'removed-by-us', run_id = excluded.run_id, updated_at = excluded.updated_at`,
        emailKeys,
        (k) => [key.exportId, key.listId, k, '', null, 'removed-by-us', runId, now],
      );
    });
  }

  /** Keeps the contact ids a run found for its planned removals, for the ledger's contacts. */
  async rememberRemovalIds(runId: string, key: LedgerKey): Promise<void> {
    await this.db.run(
      `UPDATE delivery_ledger SET contact_id = (SELECT r.contact_id FROM run_removals r WHERE r.run_id = ? AND r.email_key = delivery_ledger.email_key AND r.contact_id IS NOT NULL)
        WHERE export_id = ? AND list_id = ? AND contact_id IS NULL
          AND email_key IN (SELECT email_key FROM run_removals WHERE run_id = ? AND contact_id IS NOT NULL)`,
      [runId, key.exportId, key.listId, runId],
    );
  }

  /** Drops a run's working rows once it ended: contacts of imports that never completed, the list read. */
  async forgetRun(runId: string): Promise<void> {
    await this.db.run('DELETE FROM run_deliveries WHERE run_id = ?', [runId]);
    await this.db.run('DELETE FROM run_list_members WHERE run_id = ?', [runId]);
  }

  /** Whether the export's ledger holds any contact of the list (none: every contact of a run is new). */
  async knowsList(key: LedgerKey): Promise<boolean> {
    return (await this.db.get('SELECT 1 AS known FROM delivery_ledger WHERE export_id = ? AND list_id = ? LIMIT 1', [key.exportId, key.listId])) !== undefined;
  }

  /** Forgets what an export delivered to lists other than its current one (its list was changed). */
  async forgetOtherLists(key: LedgerKey): Promise<number> {
    return (await this.db.run('DELETE FROM delivery_ledger WHERE export_id = ? AND list_id <> ?', [key.exportId, key.listId])).changes;
  }

  /** The run's suppressions in snapshot order, read in pages. */
  async *suppressions(runId: string, pageSize = 1000): AsyncGenerator<Suppression> {
    let after = -1;
    for (;;) {
      const rows = await this.db.all<{ snapshot_seq: number; profile_id: string; email: string | null; reason: SuppressionReason }>(
        'SELECT snapshot_seq, profile_id, email, reason FROM run_suppressions WHERE run_id = ? AND snapshot_seq > ? ORDER BY snapshot_seq LIMIT ?',
        [runId, after, pageSize],
      );
      for (const r of rows) yield { snapshotSeq: Number(r.snapshot_seq), profileId: r.profile_id, email: r.email, reason: r.reason };
      if (rows.length < pageSize) return;
      after = Number(rows[rows.length - 1].snapshot_seq);
    }
  }

  /**
   * A chunk's deliveries, written once with the chunk (a retried upload finds the chunk and writes
   * nothing): on PostgreSQL by COPY, a quarter of the time of multi-row INSERTs for 40,000 rows.
   */
  private async insertDeliveries(tx: Db, runId: string, chunkNo: number, deliveries: readonly Delivery[]): Promise<void> {
    if (tx.dialect === 'postgres') {
      const rows = deliveries.map((d) => [runId, String(chunkNo), d.emailKey, d.hash] as const);
      if (rows.length > 0) await copyIn(tx, 'COPY run_deliveries (run_id, chunk_no, email_key, hash) FROM STDIN', copyText(rows));
      return;
    }
    await insertRows(tx, 'run_deliveries (run_id, chunk_no, email_key, hash)', 'ON CONFLICT (run_id, chunk_no, email_key) DO NOTHING', deliveries, (d) => [runId, chunkNo, d.emailKey, d.hash]);
  }

  private async setStates(tx: Db, key: LedgerKey, emailKeys: readonly string[], state: LedgerState, runId: string, now: string): Promise<void> {
    for (let i = 0; i < emailKeys.length; i += MAX_ROWS_PER_INSERT) {
      const part = emailKeys.slice(i, i + MAX_ROWS_PER_INSERT);
      await tx.run(
        `UPDATE delivery_ledger SET state = ?, run_id = ?, updated_at = ? WHERE export_id = ? AND list_id = ? AND email_key IN (${part.map(() => '?').join(', ')})`,
        [state, runId, now, key.exportId, key.listId, ...part],
      );
    }
  }
}

/** `state hash` as the page query reads it (a state has no blank; a hash may be empty). */
function deliveredOf(value: string): { hash: string; state: LedgerState } {
  const blank = value.indexOf(' ');
  return { state: value.slice(0, blank) as LedgerState, hash: value.slice(blank + 1) };
}
