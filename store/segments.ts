import { newId } from '../common/ids';
import type { Db } from './db';
import type { JobRunner } from './jobs';
import { analyze, ANALYZE_AFTER_ROWS, caseFoldCollation, compileRule, ensureSqliteFunctions, type Rule, type SqlFragment } from './rules';
import type { Segment } from './types';

interface SegmentRow {
  id: string;
  name: string;
  rule: unknown;
  member_count: number | null;
  refreshed_at: string | null;
  created_at: string;
  updated_at: string;
}

const toSegment = (r: SegmentRow): Segment => ({
  id: r.id,
  name: r.name,
  rule: typeof r.rule === 'string' ? JSON.parse(r.rule) : r.rule,
  memberCount: r.member_count === null ? null : Number(r.member_count),
  refreshedAt: r.refreshed_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const COLUMNS = 'id, name, rule, member_count, refreshed_at, created_at, updated_at';

export interface RefreshResult {
  id: string;
  memberCount: number;
  refreshedAt: string;
}

export interface SegmentPatch {
  name?: string;
  rule?: Rule;
}

export type DeleteSegmentResult = { deleted: true } | { deleted: false; reason: 'not_found' } | { deleted: false; reason: 'in_use'; exportIds: string[] };

const jsonParam = (db: Db) => (db.dialect === 'postgres' ? '?::jsonb' : '?');

/**
 * Segments: a name and a rule (store/rules.ts). Membership is materialized into segment_members by
 * refresh, in one transaction, and stays as it was until the next refresh. What touches the
 * membership grows with the segment, so it runs as a store job (store/jobs.ts): refresh, a rule
 * change, a delete.
 */
export class SegmentRepository {
  constructor(
    private readonly db: Db,
    private readonly jobs: JobRunner,
  ) {
    ensureSqliteFunctions(db);
  }

  async create(input: { name: string; rule: Rule }, now: string = new Date().toISOString()): Promise<Segment> {
    const id = newId('seg');
    await this.db.run(
      `INSERT INTO segments (id, name, rule, member_count, refreshed_at, created_at, updated_at) VALUES (?, ?, ${jsonParam(this.db)}, NULL, NULL, ?, ?)`,
      [id, input.name, JSON.stringify(input.rule), now, now],
    );
    return (await this.get(id))!;
  }

  async get(id: string): Promise<Segment | undefined> {
    const [row] = await this.db.allShared<SegmentRow>(`SELECT ${COLUMNS} FROM segments WHERE id = ?`, [id]);
    return row ? toSegment(row) : undefined;
  }

  /** A page in id order (ids sort by creation time) after `afterId`. */
  async list(limit: number, afterId?: string): Promise<{ items: Segment[]; hasMore: boolean }> {
    const rows = await this.db.allShared<SegmentRow>(
      `SELECT ${COLUMNS} FROM segments ${afterId !== undefined ? 'WHERE id > ?' : ''} ORDER BY id LIMIT ?`,
      afterId !== undefined ? [afterId, limit + 1] : [limit + 1],
    );
    return { items: rows.slice(0, limit).map(toSegment), hasMore: rows.length > limit };
  }

  /** The ids among `ids` that name no segment (for validating an export). */
  async missing(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.all<{ id: string }>(`SELECT id FROM segments WHERE id IN (${ids.map(() => '?').join(', ')})`, [...ids]);
    const found = new Set(rows.map((r) => r.id));
    return [...new Set(ids)].filter((id) => !found.has(id));
  }

  /**
   * Changes the name and/or the rule. A new rule clears the materialized membership: memberCount
   * and refreshedAt are null again until the next refresh, as for a new segment.
   */
  update(id: string, patch: SegmentPatch, now: string = new Date().toISOString()): Promise<Segment | undefined> {
    return this.jobs.run('updateSegment', { id, patch, now });
  }

  /** Deletes a segment and its membership, unless an export (not deleted) names it. */
  delete(id: string): Promise<DeleteSegmentResult> {
    return this.jobs.run('deleteSegment', { id });
  }

  /** The rule as a WHERE expression over `profiles p`. */
  async compile(rule: Rule): Promise<SqlFragment> {
    return compileRule(rule, this.db.dialect, { alias: 'p', caseFoldCollation: await caseFoldCollation(this.db) });
  }

  /** How many profiles the rule matches now (without materializing anything). */
  async countMatching(rule: Rule): Promise<number> {
    const where = await this.compile(rule);
    const row = await this.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM profiles p WHERE ${where.sql}`, where.params);
    return Number(row?.n ?? 0);
  }

  /** The ids of the profiles the rule matches now, in id order (for tests and previews). */
  async matchingIds(rule: Rule, limit = 10_000): Promise<string[]> {
    const where = await this.compile(rule);
    const rows = await this.db.all<{ id: string }>(`SELECT p.id FROM profiles p WHERE ${where.sql} ORDER BY p.id LIMIT ?`, [...where.params, limit]);
    return rows.map((r) => r.id);
  }

  /** The materialized members in id order (as of the last refresh). */
  async memberIds(segmentId: string, limit = 10_000, afterId?: string): Promise<string[]> {
    const rows = await this.db.all<{ profile_id: string }>(
      `SELECT profile_id FROM segment_members WHERE segment_id = ? ${afterId !== undefined ? 'AND profile_id > ?' : ''} ORDER BY profile_id LIMIT ?`,
      afterId !== undefined ? [segmentId, afterId, limit] : [segmentId, limit],
    );
    return rows.map((r) => r.profile_id);
  }

  /**
   * Materializes the segment's membership in one transaction: the profiles its rule matches now
   * replace the members, and the count and the time (`now()` when the refresh starts) are
   * recorded. Undefined when there is no such segment.
   */
  refresh(id: string, now: () => Date = () => new Date()): Promise<RefreshResult | undefined> {
    return this.jobs.run('refreshSegment', { id, refreshedAt: now().toISOString() });
  }

  /** Refreshes every segment, each in its own transaction (the scheduled refresh). */
  async refreshAll(now: () => Date = () => new Date()): Promise<RefreshResult[]> {
    const results: RefreshResult[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.db.all<{ id: string }>(
        `SELECT id FROM segments ${after !== undefined ? 'WHERE id > ?' : ''} ORDER BY id LIMIT 100`,
        after !== undefined ? [after] : [],
      );
      for (const { id } of page) {
        const r = await this.refresh(id, now);
        if (r) results.push(r);
      }
      if (page.length < 100) return results;
      after = page[page.length - 1].id;
    }
  }
}

// ---------------------------------------------------------------- the long parts (store jobs)

/**
 * The segment's row, locked until the transaction ends (PostgreSQL; SQLite has one writer): a
 * refresh, a rule change and a delete of one segment run one after the other, so a delete or a new
 * rule removes every member a refresh wrote (nothing else ties a member to its segment there).
 */
async function lockSegment(tx: Db, id: string): Promise<SegmentRow | undefined> {
  return tx.get<SegmentRow>(`SELECT ${COLUMNS} FROM segments WHERE id = ?${tx.dialect === 'postgres' ? ' FOR UPDATE' : ''}`, [id]);
}

export async function updateSegment(db: Db, id: string, patch: SegmentPatch, now: string): Promise<Segment | undefined> {
  return db.tx(async (tx) => {
    if (!(await lockSegment(tx, id))) return undefined;
    if (patch.name !== undefined) await tx.run('UPDATE segments SET name = ?, updated_at = ? WHERE id = ?', [patch.name, now, id]);
    if (patch.rule !== undefined) {
      await tx.run(`UPDATE segments SET rule = ${jsonParam(tx)}, member_count = NULL, refreshed_at = NULL, updated_at = ? WHERE id = ?`, [
        JSON.stringify(patch.rule),
        now,
        id,
      ]);
      await tx.run('DELETE FROM segment_members WHERE segment_id = ?', [id]);
    }
    const row = await tx.get<SegmentRow>(`SELECT ${COLUMNS} FROM segments WHERE id = ?`, [id]);
    return row ? toSegment(row) : undefined;
  });
}

export async function deleteSegment(db: Db, id: string): Promise<DeleteSegmentResult> {
  try {
    return await db.tx(async (tx) => {
      if (!(await lockSegment(tx, id))) return { deleted: false, reason: 'not_found' } as const;
      const users = await exportsNaming(tx, id);
      if (users.length > 0) return { deleted: false, reason: 'in_use', exportIds: users } as const;
      // Deleted exports keep their rows in export_segments; they no longer hold the segment.
      await tx.run('DELETE FROM export_segments WHERE segment_id = ?', [id]);
      await tx.run('DELETE FROM segment_members WHERE segment_id = ?', [id]);
      await tx.run('DELETE FROM segments WHERE id = ?', [id]);
      return { deleted: true } as const;
    });
  } catch (err) {
    // An export that named the segment between our check and the delete (PostgreSQL, concurrent).
    if ((err as { code?: string }).code === '23503') {
      return { deleted: false, reason: 'in_use', exportIds: await exportsNaming(db, id) };
    }
    throw err;
  }
}

async function exportsNaming(db: Db, segmentId: string): Promise<string[]> {
  const rows = await db.all<{ id: string }>(
    `SELECT e.id FROM export_segments es JOIN exports e ON e.id = es.export_id
     WHERE es.segment_id = ? AND e.deleted_at IS NULL ORDER BY e.id`,
    [segmentId],
  );
  return rows.map((r) => r.id);
}

/**
 * Brings the segment's materialized membership up to its rule. Only the difference is written:
 * members the rule no longer matches leave, profiles it newly matches join, and the rest stay as
 * they are, so a refresh of a million members of which a few changed writes a few rows (a smaller
 * log for SQLite's readers to search, less for PostgreSQL to vacuum).
 */
export async function refreshSegment(db: Db, id: string, refreshedAt: string): Promise<RefreshResult | undefined> {
  const collation = await caseFoldCollation(db);
  const result = await db.tx(async (tx) => {
    const row = await lockSegment(tx, id);
    if (!row) return undefined;
    const segment = toSegment(row);
    const where = compileRule(segment.rule as Rule, tx.dialect, { alias: 'p', caseFoldCollation: collation });
    // A rule never refreshed (memberCount null: a new segment, a changed rule) has no members yet.
    const known = segment.memberCount !== null;
    const left = known
      ? await tx.run(
          `DELETE FROM segment_members WHERE segment_id = ?
             AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.id = segment_members.profile_id AND (${where.sql}))`,
          [id, ...where.params],
        )
      : { changes: 0 };
    const notYetMember = 'AND NOT EXISTS (SELECT 1 FROM segment_members m WHERE m.segment_id = ? AND m.profile_id = p.id)';
    const joined = await tx.run(
      `INSERT INTO segment_members (segment_id, profile_id) SELECT ?, p.id FROM profiles p WHERE (${where.sql}) ${known ? notYetMember : ''}`,
      known ? [id, ...where.params, id] : [id, ...where.params],
    );
    // The count is kept with the rows: a deleted profile takes its memberships and one off the count.
    const memberCount = (segment.memberCount ?? 0) - left.changes + joined.changes;
    await tx.run('UPDATE segments SET member_count = ?, refreshed_at = ? WHERE id = ?', [memberCount, refreshedAt, id]);
    return { result: { id, memberCount, refreshedAt }, written: left.changes + joined.changes };
  });
  if (result && result.written >= ANALYZE_AFTER_ROWS) await analyze(db, 'segment_members');
  return result?.result;
}
