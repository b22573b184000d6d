import type { Db } from './db';
import type { Role } from './types';

/**
 * Sessions of the web console, shared by every API process through the store. The caller hashes:
 * this repository never sees a session id or an API key, only their SHA-256 digests.
 */
export interface ConsoleSession {
  idHash: string;
  role: Role;
  keyFingerprint: string;
  createdAt: string;
  expiresAt: string;
}

interface SessionRow {
  id_hash: string;
  role: Role;
  key_fingerprint: string;
  created_at: string;
  expires_at: string;
}

export class ConsoleSessionRepository {
  constructor(private readonly db: Db) {}

  /** Stores a new session and drops the expired ones (sessions are few; this keeps the table small). */
  async create(session: ConsoleSession): Promise<void> {
    await this.db.tx(async (tx) => {
      await tx.run('DELETE FROM console_sessions WHERE expires_at <= ?', [session.createdAt]);
      await tx.run('INSERT INTO console_sessions (id_hash, role, key_fingerprint, created_at, expires_at) VALUES (?, ?, ?, ?, ?)', [
        session.idHash,
        session.role,
        session.keyFingerprint,
        session.createdAt,
        session.expiresAt,
      ]);
    });
  }

  /** The session when it exists and has not expired at `now` (ISO 8601 UTC). */
  async find(idHash: string, now: string): Promise<ConsoleSession | undefined> {
    const row = await this.db.get<SessionRow>('SELECT * FROM console_sessions WHERE id_hash = ? AND expires_at > ?', [idHash, now]);
    return row && { idHash: row.id_hash, role: row.role, keyFingerprint: row.key_fingerprint, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  async delete(idHash: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM console_sessions WHERE id_hash = ?', [idHash])).changes > 0;
  }
}
