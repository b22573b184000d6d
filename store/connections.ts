import { newId } from '../common/ids';
import { decodeCursor, keysetPage } from '../common/paging';
import { randomToken, sha256, type SecretBox } from '../common/secrets';
import type { AuditActor } from './audit';
import type { Db } from './db';
import type { Connection, ConnectionStatus, Page, UsableBy } from './types';

interface ConnectionRow {
  id: string;
  display_name: string;
  usable_by: UsableBy;
  status: ConnectionStatus;
  account_id: string | null;
  created_at: string;
  updated_at: string;
}

const COLUMNS = 'id, display_name, usable_by, status, account_id, created_at, updated_at';

export type RemoveConnectionResult =
  | { removed: true; detachedExportIds: string[] }
  | { removed: false; exportIds: string[] };

/**
 * Connections to Constant Contact accounts and their authorization handshakes. The token columns
 * (`tokens`, `token_generation`, the refresh lease) belong to TokenRepository; this repository never
 * reads them.
 *
 * The handshake keeps nothing a thief could use: the authorize ticket and the OAuth state are stored
 * as SHA-256 hashes and are single use; the PKCE verifier is sealed with AES-256-GCM (bound to its
 * connection and state) and erased once used.
 */
export class ConnectionRepository {
  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
  ) {}

  async create(input: { displayName: string; usableBy: UsableBy; now: string }): Promise<Connection> {
    const id = newId('con');
    await this.db.run(
      `INSERT INTO connections (id, display_name, usable_by, status, consent_at, created_at, updated_at)
       VALUES (?, ?, ?, 'pending-authorization', ?, ?, ?)`,
      [id, input.displayName, input.usableBy, input.now, input.now, input.now],
    );
    return (await this.get(id))!;
  }

  async get(id: string): Promise<Connection | undefined> {
    const row = await this.db.get<ConnectionRow>(`SELECT ${COLUMNS} FROM connections WHERE id = ?`, [id]);
    return row && toConnection(row);
  }

  /** Oldest first, keyset-paged by id; `usableBy` filters (contributors see the shared ones only). */
  async list(options: { limit: number; cursor?: string; usableBy?: UsableBy }): Promise<Page<Connection>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const position = decodeCursor(options.cursor, 1);
    if (position) {
      where.push('id > ?');
      params.push(position[0]);
    }
    if (options.usableBy) {
      where.push('usable_by = ?');
      params.push(options.usableBy);
    }
    const rows = await this.db.all<ConnectionRow>(
      `SELECT ${COLUMNS} FROM connections ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`,
      [...params, options.limit + 1],
    );
    const page = keysetPage(rows, options.limit, (last) => [last.id]);
    return { items: page.rows.map(toConnection), nextCursor: page.nextCursor };
  }

  async update(id: string, patch: { displayName?: string; usableBy?: UsableBy }, now: string): Promise<Connection | undefined> {
    const sets: string[] = [];
    const params: unknown[] = [];
    if (patch.displayName !== undefined) {
      sets.push('display_name = ?');
      params.push(patch.displayName);
    }
    if (patch.usableBy !== undefined) {
      sets.push('usable_by = ?');
      params.push(patch.usableBy);
    }
    sets.push('updated_at = ?');
    params.push(now);
    const { changes } = await this.db.run(`UPDATE connections SET ${sets.join(', ')} WHERE id = ?`, [...params, id]);
    return changes ? this.get(id) : undefined;
  }

  /**
   * Removes a connection, unless exports (not deleted) use it: then nothing changes and their ids are
   * returned, or, with `detachExports`, those exports keep their settings with no connection.
   * Returns undefined when there is no such connection.
   */
  async remove(id: string, options: { detachExports: boolean; now: string }): Promise<RemoveConnectionResult | undefined> {
    return this.db.tx(async (tx) => {
      const exists = await tx.get('SELECT id FROM connections WHERE id = ?', [id]);
      if (!exists) return undefined;
      const rows = await tx.all<{ id: string }>('SELECT id FROM exports WHERE connection_id = ? AND deleted_at IS NULL ORDER BY id', [id]);
      const exportIds = rows.map((r) => r.id);
      if (exportIds.length && !options.detachExports) return { removed: false, exportIds };
      await tx.run('UPDATE exports SET connection_id = NULL, updated_at = ? WHERE connection_id = ? AND deleted_at IS NULL', [options.now, id]);
      // Deleted exports keep their run history; they lose the reference too (no dangling id).
      await tx.run('UPDATE exports SET connection_id = NULL WHERE connection_id = ?', [id]);
      await tx.run('DELETE FROM authorize_tickets WHERE connection_id = ?', [id]);
      await tx.run('DELETE FROM oauth_states WHERE connection_id = ?', [id]);
      await tx.run('DELETE FROM connections WHERE id = ?', [id]);
      return { removed: true, detachedExportIds: exportIds };
    });
  }

  // ------------------------------------------------------------ the authorize ticket

  /**
   * A single-use ticket for the admin's browser, which sends no API key, to start the authorization
   * of this connection. Only its hash is stored.
   */
  async issueTicket(connectionId: string, options: { now: Date; ttlMs: number; issuedBy?: AuditActor; allowAccountChange?: boolean }): Promise<string> {
    const ticket = randomToken(32);
    await this.db.tx(async (tx) => {
      await tx.run('DELETE FROM authorize_tickets WHERE expires_at < ?', [new Date(options.now.getTime() - 86_400_000).toISOString()]);
      await tx.run(
        'INSERT INTO authorize_tickets (ticket_hash, connection_id, expires_at, issued_by_role, issued_by_key, allow_account_change) VALUES (?, ?, ?, ?, ?, ?)',
        [
          sha256(ticket),
          connectionId,
          new Date(options.now.getTime() + options.ttlMs).toISOString(),
          options.issuedBy?.role ?? null,
          options.issuedBy?.key ?? null,
          options.allowAccountChange ? 1 : 0,
        ],
      );
    });
    return ticket;
  }

  /**
   * Uses up a ticket of this connection: once, for an unexpired ticket, it answers who issued it
   * and what it allows; undefined ever after.
   */
  async redeemTicket(connectionId: string, ticket: string, now: Date): Promise<TicketGrant | undefined> {
    return this.db.tx(async (tx) => {
      const { changes } = await tx.run(
        'UPDATE authorize_tickets SET used_at = ? WHERE ticket_hash = ? AND connection_id = ? AND used_at IS NULL AND expires_at > ?',
        [now.toISOString(), sha256(ticket), connectionId, now.toISOString()],
      );
      if (changes !== 1) return undefined;
      const row = await tx.get<IssuerRow & { allow_account_change: number }>(
        'SELECT issued_by_role, issued_by_key, allow_account_change FROM authorize_tickets WHERE ticket_hash = ?',
        [sha256(ticket)],
      );
      return { issuedBy: issuer(row), allowAccountChange: Number(row?.allow_account_change) === 1 };
    });
  }

  // ------------------------------------------------------------ the OAuth state

  /** A fresh single-use OAuth `state` for this connection, remembering the PKCE verifier (sealed). */
  async beginAuthorization(connectionId: string, codeVerifier: string, options: { now: Date; ttlMs: number } & Partial<TicketGrant>): Promise<string> {
    const state = randomToken(32);
    const stateHash = sha256(state);
    await this.db.tx(async (tx) => {
      await tx.run('DELETE FROM oauth_states WHERE expires_at < ?', [new Date(options.now.getTime() - 86_400_000).toISOString()]);
      await tx.run(
        'INSERT INTO oauth_states (state_hash, connection_id, code_verifier, expires_at, issued_by_role, issued_by_key, allow_account_change) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [
          stateHash,
          connectionId,
          this.secrets.seal(codeVerifier, verifierBinding(connectionId, stateHash)),
          new Date(options.now.getTime() + options.ttlMs).toISOString(),
          options.issuedBy?.role ?? null,
          options.issuedBy?.key ?? null,
          options.allowAccountChange ? 1 : 0,
        ],
      );
    });
    return state;
  }

  /**
   * Uses up an OAuth state: its connection and PKCE verifier the first time, for an unexpired state;
   * undefined for an unknown, used or expired one. The sealed verifier is erased.
   */
  async completeAuthorization(state: string, now: Date): Promise<({ connectionId: string; codeVerifier: string } & TicketGrant) | undefined> {
    const stateHash = sha256(state);
    const row = await this.db.tx(async (tx) => {
      const found = await tx.get<{ connection_id: string; code_verifier: string; allow_account_change: number } & IssuerRow>(
        'SELECT connection_id, code_verifier, issued_by_role, issued_by_key, allow_account_change FROM oauth_states WHERE state_hash = ? AND used_at IS NULL AND expires_at > ?',
        [stateHash, now.toISOString()],
      );
      if (!found) return undefined;
      const { changes } = await tx.run(
        "UPDATE oauth_states SET used_at = ?, code_verifier = '' WHERE state_hash = ? AND used_at IS NULL",
        [now.toISOString(), stateHash],
      );
      return changes === 1 ? found : undefined;
    });
    if (!row) return undefined;
    return {
      connectionId: row.connection_id,
      codeVerifier: this.secrets.open(row.code_verifier, verifierBinding(row.connection_id, stateHash)),
      issuedBy: issuer(row),
      allowAccountChange: Number(row.allow_account_change) === 1,
    };
  }
}

/** What an authorize link carries to its callback: who issued it, and whether it may move the connection to another account. */
export interface TicketGrant {
  issuedBy: AuditActor;
  allowAccountChange: boolean;
}

interface IssuerRow {
  issued_by_role: AuditActor['role'];
  issued_by_key: string | null;
}

const issuer = (row: IssuerRow | undefined): AuditActor => ({ role: row?.issued_by_role ?? null, key: row?.issued_by_key ?? null });

const verifierBinding = (connectionId: string, stateHash: string) => `oauth_state:${connectionId}:${stateHash}`;

function toConnection(row: ConnectionRow): Connection {
  return {
    id: row.id,
    displayName: row.display_name,
    usableBy: row.usable_by,
    status: row.status,
    accountId: row.account_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
