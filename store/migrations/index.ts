import type { Db } from '../db';
import { initialSchema } from './001-initial';
import { deliveryLedger } from './010-delivery-ledger';
import { auditLog } from './020-audit-log';
import { personalDataRetention } from './021-personal-data-retention';
import { connectionAccount } from './022-connection-account';
import { eventsAndWebhooks } from './030-events-and-webhooks';
import { alerts } from './031-alerts';
import { consoleSessions } from './040-console-sessions';
import { attributeCatalog } from './050-attribute-catalog';
import { storeLeases } from './051-store-leases';
import { snapshotProgress } from './060-snapshot-progress';
import { membersUnchecked } from './070-members-unchecked';
import type { Migration } from './migration';

export type { Migration } from './migration';

/** Every migration, applied in this order at start; versions only grow. */
export const migrations: Migration[] = [
  initialSchema,
  deliveryLedger,
  auditLog,
  personalDataRetention,
  connectionAccount,
  eventsAndWebhooks,
  alerts,
  consoleSessions,
  attributeCatalog,
  storeLeases,
  snapshotProgress,
  membersUnchecked,
];

/** PostgreSQL advisory lock key that serializes migrations of every process on one database. */
const MIGRATION_LOCK = 7233001;

/**
 * Brings the schema up to date. Everything, the migrations table included, happens in one
 * transaction that first takes the lock (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE), so
 * processes starting together on an empty database wait for each other: even `CREATE TABLE IF NOT
 * EXISTS` fails on PostgreSQL when two transactions create the same table at once. `list` is every
 * migration but for a test that builds the database an earlier release left.
 */
export async function migrate(db: Db, list: readonly Migration[] = migrations): Promise<void> {
  await db.tx(async (tx) => {
    if (db.dialect === 'postgres') await tx.run('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK]);
    await tx.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const applied = new Set((await tx.all<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)));
    for (const m of list) {
      if (applied.has(m.version)) continue;
      for (const statement of splitStatements(m.sql(db.dialect))) await tx.run(statement);
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, new Date().toISOString()]);
    }
  });
}

function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*\n/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter(Boolean);
}
