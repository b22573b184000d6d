import { decodeCursor, keysetPage } from '../common/paging';
import { newId } from '../common/ids';
import { jsonColumn, type Db } from './db';
import type { Export, Mapping, Page, Role, Schedule, SyncMode } from './types';

/** What an export is made of (it always names a connection when saved); the API validates it (api/schemas/exports.ts) before it gets here. */
export type ExportFields = Omit<Export, 'id' | 'connectionId' | 'createdAt' | 'updatedAt' | 'deletedAt'> & { connectionId: string };

export type ExportPatch = Partial<ExportFields>;

/** A save refused by the store's own checks, made inside the transaction that writes. */
export type SaveRefusal =
  | { refused: 'segment_not_found'; segmentIds: string[] }
  | { refused: 'connection_not_found' }
  | { refused: 'export_not_found' };

export interface ListExportsOptions {
  limit: number;
  cursor?: string;
  connectionId?: string;
  /** Only exports on connections with this usableBy (contributors see those shared with them). */
  connectionUsableBy?: 'admins-and-contributors';
}

interface ExportRow {
  id: string;
  name: string;
  connection_id: string | null;
  list_id: string;
  mapping: unknown;
  sync_mode: SyncMode;
  max_removal_percent: number;
  schedule: unknown;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

/**
 * Exports: the destination (connection, list), the data matching, the segments and how and when it
 * runs. Deleting is soft: `deleted_at` is set and the export's segments are released (so a segment is
 * no longer "in use"), while the export row stays for its run history.
 */
export class ExportRepository {
  constructor(private readonly db: Db) {}

  /** Segment ids of `ids` that do not exist. */
  async missingSegments(ids: readonly string[], db: Db = this.db): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await db.all<{ id: string }>(`SELECT id FROM segments WHERE id IN (${ids.map(() => '?').join(', ')})`, ids);
    const found = new Set(rows.map((r) => r.id));
    return ids.filter((id) => !found.has(id));
  }

  async create(fields: ExportFields, meta: { createdByRole: Role; now: string }): Promise<Export | SaveRefusal> {
    return this.db.tx(async (tx) => {
      const refusal = await this.checkReferences(tx, fields.connectionId, fields.segmentIds);
      if (refusal) return refusal;
      const id = newId('exp');
      await tx.run(
        `INSERT INTO exports (id, name, connection_id, list_id, mapping, sync_mode, max_removal_percent, schedule, created_by_role, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          id,
          fields.name,
          fields.connectionId,
          fields.listId,
          JSON.stringify(fields.mapping),
          fields.syncMode,
          fields.maxRemovalPercent,
          JSON.stringify(fields.schedule),
          meta.createdByRole,
          meta.now,
          meta.now,
        ],
      );
      await this.writeSegments(tx, id, fields.segmentIds);
      return (await this.get(id, { db: tx }))!;
    });
  }

  /** An export by id; deleted exports only with `includeDeleted` (their run history stays readable). */
  async get(id: string, options: { includeDeleted?: boolean; db?: Db } = {}): Promise<Export | undefined> {
    const db = options.db ?? this.db;
    const row = await db.get<ExportRow>(
      `SELECT * FROM exports WHERE id = ?${options.includeDeleted ? '' : ' AND deleted_at IS NULL'}`,
      [id],
    );
    if (!row) return undefined;
    const segments = await this.segmentsOf(db, [id]);
    return toExport(row, segments.get(id) ?? []);
  }

  /** Exports that are not deleted, oldest first, keyset-paged by id. */
  async list(options: ListExportsOptions): Promise<Page<Export>> {
    const where = ['e.deleted_at IS NULL'];
    const params: unknown[] = [];
    const position = decodeCursor(options.cursor, 1);
    if (position) {
      where.push('e.id > ?');
      params.push(position[0]);
    }
    if (options.connectionId) {
      where.push('e.connection_id = ?');
      params.push(options.connectionId);
    }
    let join = '';
    if (options.connectionUsableBy) {
      join = 'JOIN connections c ON c.id = e.connection_id';
      where.push('c.usable_by = ?');
      params.push(options.connectionUsableBy);
    }
    const rows = await this.db.all<ExportRow>(
      `SELECT e.* FROM exports e ${join} WHERE ${where.join(' AND ')} ORDER BY e.id LIMIT ?`,
      [...params, options.limit + 1],
    );
    const page = keysetPage(rows, options.limit, (last) => [last.id]);
    const segments = await this.segmentsOf(this.db, page.rows.map((r) => r.id));
    return { items: page.rows.map((r) => toExport(r, segments.get(r.id) ?? [])), nextCursor: page.nextCursor };
  }

  /** Ids of the exports (not deleted) that use a connection: while there are any, it cannot be removed. */
  async idsUsingConnection(connectionId: string, db: Db = this.db): Promise<string[]> {
    const rows = await db.all<{ id: string }>('SELECT id FROM exports WHERE connection_id = ? AND deleted_at IS NULL ORDER BY id', [connectionId]);
    return rows.map((r) => r.id);
  }

  /** Applies a validated patch (objects and segmentIds replaced whole). */
  async update(id: string, patch: ExportPatch, meta: { now: string }): Promise<Export | SaveRefusal> {
    return this.db.tx(async (tx) => {
      const current = await this.get(id, { db: tx });
      if (!current) return { refused: 'export_not_found' } as const;
      const refusal = await this.checkReferences(
        tx,
        patch.connectionId !== undefined && patch.connectionId !== current.connectionId ? patch.connectionId : undefined,
        patch.segmentIds ?? [],
      );
      if (refusal) return refusal;
      const sets: string[] = [];
      const params: unknown[] = [];
      const set = (column: string, value: unknown) => {
        sets.push(`${column} = ?`);
        params.push(value);
      };
      if (patch.name !== undefined) set('name', patch.name);
      if (patch.connectionId !== undefined) set('connection_id', patch.connectionId);
      if (patch.listId !== undefined) set('list_id', patch.listId);
      if (patch.mapping !== undefined) set('mapping', JSON.stringify(patch.mapping));
      if (patch.syncMode !== undefined) set('sync_mode', patch.syncMode);
      if (patch.maxRemovalPercent !== undefined) set('max_removal_percent', patch.maxRemovalPercent);
      if (patch.schedule !== undefined) set('schedule', JSON.stringify(patch.schedule));
      set('updated_at', meta.now);
      await tx.run(`UPDATE exports SET ${sets.join(', ')} WHERE id = ? AND deleted_at IS NULL`, [...params, id]);
      if (patch.segmentIds !== undefined) {
        await tx.run('DELETE FROM export_segments WHERE export_id = ?', [id]);
        await this.writeSegments(tx, id, patch.segmentIds);
      }
      return (await this.get(id, { db: tx }))!;
    });
  }

  /**
   * Soft delete: the export disappears from the API, its segments are released, its runs stay
   * readable. Returns the export as it was, or undefined when there was none to delete.
   */
  async softDelete(id: string, meta: { now: string }): Promise<Export | undefined> {
    return this.db.tx(async (tx) => {
      const current = await this.get(id, { db: tx });
      if (!current) return undefined;
      await tx.run('UPDATE exports SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL', [meta.now, meta.now, id]);
      await tx.run('DELETE FROM export_segments WHERE export_id = ?', [id]);
      return current;
    });
  }

  /** The id of the newest run (by start time, then id) of each export that has run, for `lastRun`. */
  async newestRunIds(exportIds: readonly string[]): Promise<Map<string, string>> {
    const result = new Map<string, string>();
    if (exportIds.length === 0) return result;
    const rows = await this.db.all<{ id: string; export_id: string }>(
      `SELECT r.id, r.export_id FROM runs r
        WHERE r.export_id IN (${exportIds.map(() => '?').join(', ')})
          AND NOT EXISTS (
            SELECT 1 FROM runs n
             WHERE n.export_id = r.export_id
               AND (n.started_at > r.started_at OR (n.started_at = r.started_at AND n.id > r.id)))`,
      exportIds,
    );
    for (const row of rows) result.set(row.export_id, row.id);
    return result;
  }

  private async checkReferences(tx: Db, connectionId: string | undefined, segmentIds: readonly string[]): Promise<SaveRefusal | undefined> {
    if (connectionId !== undefined) {
      const connection = await tx.get('SELECT id FROM connections WHERE id = ?', [connectionId]);
      if (!connection) return { refused: 'connection_not_found' };
    }
    const missing = await this.missingSegments(segmentIds, tx);
    if (missing.length) return { refused: 'segment_not_found', segmentIds: missing };
    return undefined;
  }

  private async writeSegments(tx: Db, exportId: string, segmentIds: readonly string[]): Promise<void> {
    for (const [position, segmentId] of segmentIds.entries()) {
      await tx.run('INSERT INTO export_segments (export_id, segment_id, position) VALUES (?, ?, ?)', [exportId, segmentId, position]);
    }
  }

  private async segmentsOf(db: Db, exportIds: readonly string[]): Promise<Map<string, string[]>> {
    const map = new Map<string, string[]>();
    if (exportIds.length === 0) return map;
    const rows = await db.all<{ export_id: string; segment_id: string }>(
      `SELECT export_id, segment_id FROM export_segments WHERE export_id IN (${exportIds.map(() => '?').join(', ')}) ORDER BY export_id, position`,
      exportIds,
    );
    for (const row of rows) {
      const list = map.get(row.export_id) ?? [];
      list.push(row.segment_id);
      map.set(row.export_id, list);
    }
    return map;
  }
}

export const isSaveRefusal = (value: Export | SaveRefusal): value is SaveRefusal => 'refused' in value;

function toExport(row: ExportRow, segmentIds: string[]): Export {
  return {
    id: row.id,
    name: row.name,
    connectionId: row.connection_id,
    listId: row.list_id,
    mapping: jsonColumn<Mapping>(row.mapping),
    segmentIds,
    syncMode: row.sync_mode,
    maxRemovalPercent: Number(row.max_removal_percent),
    schedule: jsonColumn<Schedule>(row.schedule),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deletedAt: row.deleted_at,
  };
}
