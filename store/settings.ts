import type { Db } from './db';

/**
 * System-wide settings: one JSON value per key (table `settings`). The refresh schedule lives here
 * under `refresh-schedule`; the Temporal Schedule mirrors it (services/schedule-sync.ts).
 */
export interface Setting<T> {
  value: T;
  updatedAt: string;
}

export class SettingsRepository {
  constructor(private readonly db: Db) {}

  async get<T = unknown>(key: string): Promise<Setting<T> | undefined> {
    const row = await this.db.get<{ value: unknown; updated_at: string }>('SELECT value, updated_at FROM settings WHERE key = ?', [key]);
    if (!row) return undefined;
    // JSONB comes back parsed from PostgreSQL, TEXT from SQLite.
    const value = (typeof row.value === 'string' && this.db.dialect === 'sqlite' ? JSON.parse(row.value) : row.value) as T;
    return { value, updatedAt: row.updated_at };
  }

  async set<T>(key: string, value: T, now: Date = new Date()): Promise<Setting<T>> {
    const updatedAt = now.toISOString();
    await this.db.run(
      `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      [key, JSON.stringify(value), updatedAt],
    );
    return { value, updatedAt };
  }

  async delete(key: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM settings WHERE key = ?', [key])).changes > 0;
  }
}
