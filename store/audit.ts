import { newId } from '../common/ids';
import { decodeCursor, keysetPage } from '../common/paging';
import type { Db } from './db';
import type { Page, Role } from './types';

/**
 * The audit log: one entry per change an admin or a contributor made. `summary` says what changed
 * without values (field names, counts, a decision): no secret and no profile value is written here.
 */
export interface AuditActor {
  role: Role | null;
  /** The fingerprint of the credential, never the credential. */
  key: string | null;
}

export interface AuditEntry {
  id: string;
  at: string;
  requestId: string | null;
  actor: AuditActor;
  action: string;
  resourceType: string;
  resourceId: string | null;
  summary: Record<string, unknown>;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at'> & { at?: string };

interface AuditRow {
  id: string;
  at: string;
  request_id: string | null;
  actor_role: Role | null;
  actor_key: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  summary: unknown;
}

export class AuditRepository {
  constructor(private readonly db: Db) {}

  async record(entry: NewAuditEntry): Promise<AuditEntry> {
    const stored: AuditEntry = { ...entry, id: newId('aud'), at: entry.at ?? new Date().toISOString() };
    await this.db.run(
      `INSERT INTO audit_log (id, at, request_id, actor_role, actor_key, action, resource_type, resource_id, summary)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [stored.id, stored.at, stored.requestId, stored.actor.role, stored.actor.key, stored.action, stored.resourceType, stored.resourceId, JSON.stringify(stored.summary)],
    );
    return stored;
  }

  /** Newest first, keyset-paged by (at, id). */
  async list(options: { limit: number; cursor?: string }): Promise<Page<AuditEntry>> {
    const params: unknown[] = [];
    let where = '';
    const position = decodeCursor(options.cursor, 2);
    if (position) {
      const [at, id] = position;
      where = 'WHERE at < ? OR (at = ? AND id < ?)';
      params.push(at, at, id);
    }
    const rows = await this.db.all<AuditRow>(`SELECT * FROM audit_log ${where} ORDER BY at DESC, id DESC LIMIT ?`, [...params, options.limit + 1]);
    const page = keysetPage(rows, options.limit, (last) => [last.at, last.id]);
    return { items: page.rows.map(toEntry), nextCursor: page.nextCursor };
  }
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    requestId: row.request_id,
    actor: { role: row.actor_role, key: row.actor_key },
    action: row.action,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    summary: (typeof row.summary === 'string' ? JSON.parse(row.summary) : row.summary) as Record<string, unknown>,
  };
}
