import type { Dialect } from '../db';

/**
 * One versioned change of the schema. Once applied somewhere it is never edited (a database that
 * has it would not see the edit); a change is a new entry with a higher version.
 *
 * Times are ISO 8601 UTC text in both dialects; JSON is TEXT in SQLite and JSONB in PostgreSQL.
 */
export interface Migration {
  version: number;
  name: string;
  sql: (d: Dialect) => string;
}

export const json = (d: Dialect) => (d === 'postgres' ? 'JSONB' : 'TEXT');
export const bigint = (d: Dialect) => (d === 'postgres' ? 'BIGINT' : 'INTEGER');
