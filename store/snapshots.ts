import type { Db } from './db';
import { analyze, ANALYZE_AFTER_ROWS, ensureSqliteFunctions, sqliteAttributePath } from './rules';
import type { Attributes, Mapping } from './types';

/**
 * Run snapshots (docs/architecture.md, "Frozen snapshot"): at the start of a run, one INSERT … SELECT copies
 * the union of the export's segments' members (each profile once) with only the attributes the
 * mapping names into run_snapshot. The run pages that copy by keyset; re-imports and refreshes
 * after it was taken do not change what it reads. It is dropped when the run ends.
 *
 * Rows are numbered seq = 1..N in the order of email_key (lower(trim(email attribute)), null when
 * the attribute is missing, not a string or blank) then profile_id, so profiles that share an
 * email (case-insensitively) are neighbours; rows without an email key come last.
 */

export interface SnapshotRow {
  seq: number;
  profileId: string;
  emailKey: string | null;
  /** The mapped attributes by attribute name (a missing attribute is null). */
  data: Attributes;
}

export interface CreateSnapshotInput {
  segmentIds: readonly string[];
  mapping: Mapping;
  /** Refuse (SnapshotTooLargeError, nothing kept) when the union has more profiles than this. */
  maxProfiles?: number;
}

export class SnapshotTooLargeError extends Error {
  readonly code = 'snapshot_too_large';
  constructor(readonly maxProfiles: number) {
    super(`the export's segments have more than ${maxProfiles} profiles`);
  }
}

/** The attribute names a mapping reads, each once: email, firstName, lastName, custom field sources. */
export function mappedAttributes(mapping: Mapping): string[] {
  const names = [mapping.email, mapping.firstName, mapping.lastName, ...Object.values(mapping.customFields ?? {})];
  return [...new Set(names.filter((n): n is string => typeof n === 'string' && n.length > 0))];
}

/** Characters trimmed around an email before it becomes a key: space, tab, LF, CR. */
const TRIM_SQLITE = `' ' || char(9) || char(10) || char(13)`;
const TRIM_PG = `E' \\t\\n\\r'`;

export class SnapshotRepository {
  constructor(private readonly db: Db) {
    ensureSqliteFunctions(db);
  }

  /**
   * Takes the run's snapshot and returns its size. Idempotent: when the run already has rows (a
   * retried activity), nothing is inserted and the existing size is returned.
   */
  async create(runId: string, input: CreateSnapshotInput): Promise<{ profiles: number }> {
    const segmentIds = [...new Set(input.segmentIds)];
    const names = mappedAttributes(input.mapping);
    if (names.length > 50) throw new Error('a mapping names at most 50 attributes');
    const taken = await this.db.tx(async (tx) => {
      if (tx.dialect === 'postgres') {
        await tx.run('SELECT pg_advisory_xact_lock(hashtext(?))', [`run_snapshot:${runId}`]);
        // One big sort: in memory rather than in temporary files (this transaction only); no JIT
        // compilation for a plan that runs once.
        await tx.run(`SET LOCAL work_mem = '64MB'`);
        await tx.run('SET LOCAL jit = off');
      }
      const existing = await this.size(runId, tx);
      if (existing > 0 || segmentIds.length === 0) return { profiles: existing };
      const limit = input.maxProfiles !== undefined ? input.maxProfiles + 1 : undefined;
      const statement = tx.dialect === 'postgres' ? this.postgresInsert(runId, segmentIds, input.mapping.email, names, limit) : this.sqliteInsert(runId, segmentIds, input.mapping.email, names, limit);
      const { changes } = await tx.run(statement.sql, statement.params);
      if (input.maxProfiles !== undefined && changes > input.maxProfiles) throw new SnapshotTooLargeError(input.maxProfiles);
      return { profiles: changes };
    });
    // The run pages its snapshot by key right away: planned for its real size, a page is an index range.
    if (taken.profiles >= ANALYZE_AFTER_ROWS) await analyze(this.db, 'run_snapshot');
    return taken;
  }

  private sqliteInsert(runId: string, segmentIds: string[], email: string, names: string[], limit?: number) {
    const emailPath = sqliteAttributePath(email);
    const params: unknown[] = [runId, emailPath, emailPath];
    const pairs = names.map((n) => {
      params.push(n, sqliteAttributePath(n));
      return `?, p.attributes -> ?`;
    });
    params.push(...segmentIds);
    if (limit !== undefined) params.push(limit);
    return {
      sql: `INSERT INTO run_snapshot (run_id, seq, profile_id, email_key, data)
        SELECT ?, ROW_NUMBER() OVER (ORDER BY email_key NULLS LAST, profile_id), profile_id, email_key, data FROM (
          SELECT p.id AS profile_id,
            CASE WHEN json_type(p.attributes, ?) = 'text'
              THEN NULLIF(seg_fold(trim(json_extract(p.attributes, ?), ${TRIM_SQLITE})), '') END AS email_key,
            json_object(${pairs.join(', ')}) AS data
          FROM (SELECT DISTINCT profile_id FROM segment_members WHERE segment_id IN (${segmentIds.map(() => '?').join(', ')})) m
          JOIN profiles p ON p.id = m.profile_id
        ) t
        ${limit !== undefined ? 'LIMIT ?' : ''}`,
      params,
    };
  }

  private postgresInsert(runId: string, segmentIds: string[], email: string, names: string[], limit?: number) {
    const params: unknown[] = [runId, email, email];
    const pairs = names.map((n) => {
      params.push(n, n);
      return `?::text, p.attributes -> ?::text`;
    });
    params.push(segmentIds);
    if (limit !== undefined) params.push(limit);
    return {
      sql: `INSERT INTO run_snapshot (run_id, seq, profile_id, email_key, data)
        SELECT ?, ROW_NUMBER() OVER (ORDER BY email_key COLLATE "C" NULLS LAST, profile_id COLLATE "C"), profile_id, email_key, data FROM (
          SELECT p.id AS profile_id,
            CASE WHEN jsonb_typeof(p.attributes -> ?::text) = 'string'
              THEN NULLIF(lower(btrim(p.attributes ->> ?::text, ${TRIM_PG})), '') END AS email_key,
            jsonb_build_object(${pairs.join(', ')})::text AS data
          FROM (SELECT DISTINCT profile_id FROM segment_members WHERE segment_id = ANY(?::text[])) m
          JOIN profiles p ON p.id = m.profile_id
          OFFSET 0 -- computes data before the sort, which then carries it instead of whole attributes
        ) t
        ${limit !== undefined ? 'LIMIT ?' : ''}`,
      params,
    };
  }

  /** The size of the union of the segments' members now (the validation step's count). */
  async count(segmentIds: readonly string[]): Promise<number> {
    const ids = [...new Set(segmentIds)];
    if (ids.length === 0) return 0;
    const row = await this.db.get<{ n: number }>(
      // Memberships only name existing profiles (refresh inserts from profiles; a profile's delete drops them).
      `SELECT COUNT(DISTINCT profile_id) AS n FROM segment_members WHERE segment_id IN (${ids.map(() => '?').join(', ')})`,
      ids,
    );
    return Number(row?.n ?? 0);
  }

  /** How many rows the run's snapshot has (0 when it has none). */
  async size(runId: string, db: Db = this.db): Promise<number> {
    const row = await db.get<{ n: number | null }>('SELECT MAX(seq) AS n FROM run_snapshot WHERE run_id = ?', [runId]);
    return Number(row?.n ?? 0);
  }

  /** The rows with seq > afterSeq, in seq order, at most `limit`. */
  async readPage(runId: string, afterSeq: number, limit: number): Promise<SnapshotRow[]> {
    const rows = await this.db.all<{ seq: number; profile_id: string; email_key: string | null; data: string }>(
      'SELECT seq, profile_id, email_key, data FROM run_snapshot WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?',
      [runId, afterSeq, limit],
    );
    return rows.map((r) => ({ seq: Number(r.seq), profileId: r.profile_id, emailKey: r.email_key, data: JSON.parse(r.data) as Attributes }));
  }

  /** Removes the run's snapshot; returns how many rows it had. */
  async drop(runId: string): Promise<number> {
    return (await this.db.run('DELETE FROM run_snapshot WHERE run_id = ?', [runId])).changes;
  }
}
