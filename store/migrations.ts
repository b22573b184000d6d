import { scanSql } from './catalog';
import type { Db, Dialect } from './db';
import { ledgerMigration } from './ledger-migration';

/**
 * Versioned migrations, applied in order at start. Nothing has been
 * released yet, so 001 is still the place to change the initial schema; after the first release a
 * change is a new entry.
 *
 * Times are ISO 8601 UTC text in both dialects; JSON is TEXT in SQLite and JSONB in PostgreSQL.
 */
export interface Migration {
  version: number;
  name: string;
  sql: (d: Dialect) => string;
}

const json = (d: Dialect) => (d === 'postgres' ? 'JSONB' : 'TEXT');
const bigint = (d: Dialect) => (d === 'postgres' ? 'BIGINT' : 'INTEGER');

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: (d) => `
CREATE TABLE profiles (
  id TEXT PRIMARY KEY,
  attributes ${json(d)} NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE segments (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  rule ${json(d)} NOT NULL,
  member_count INTEGER,
  refreshed_at TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE segment_members (
  segment_id TEXT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
  profile_id TEXT NOT NULL,
  PRIMARY KEY (segment_id, profile_id)
);
-- Deleting a profile drops its memberships.
CREATE INDEX segment_members_by_profile ON segment_members(profile_id);

CREATE TABLE connections (
  id TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  usable_by TEXT NOT NULL,
  status TEXT NOT NULL,
  consent_at TEXT NOT NULL,
  tokens TEXT,
  token_generation INTEGER NOT NULL DEFAULT 0,
  refresh_lease_until ${bigint(d)} NOT NULL DEFAULT 0,
  refresh_lease_owner TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE authorize_tickets (
  ticket_hash TEXT PRIMARY KEY,
  connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  expires_at TEXT NOT NULL,
  used_at TEXT
);

CREATE TABLE oauth_states (
  state_hash TEXT PRIMARY KEY,
  connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
  code_verifier TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at TEXT
);

CREATE TABLE exports (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  connection_id TEXT REFERENCES connections(id) ON DELETE SET NULL,
  list_id TEXT NOT NULL,
  mapping ${json(d)} NOT NULL,
  sync_mode TEXT NOT NULL,
  max_removal_percent REAL NOT NULL,
  schedule ${json(d)} NOT NULL,
  created_by_role TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT
);
CREATE INDEX exports_by_connection ON exports(connection_id);

CREATE TABLE export_segments (
  export_id TEXT NOT NULL REFERENCES exports(id) ON DELETE CASCADE,
  segment_id TEXT NOT NULL REFERENCES segments(id),
  position INTEGER NOT NULL,
  PRIMARY KEY (export_id, segment_id)
);
CREATE INDEX export_segments_by_segment ON export_segments(segment_id);

CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  export_id TEXT NOT NULL REFERENCES exports(id),
  status TEXT NOT NULL,
  trigger TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  workflow_id TEXT NOT NULL,
  phase TEXT NOT NULL,
  chunks_done INTEGER NOT NULL DEFAULT 0,
  chunks_total INTEGER NOT NULL DEFAULT 0,
  counts ${json(d)} NOT NULL,
  error_code TEXT,
  error_message TEXT
);
-- At most one running run per export, whoever starts it.
CREATE UNIQUE INDEX runs_one_running ON runs(export_id) WHERE status = 'running';
CREATE INDEX runs_by_export ON runs(export_id, started_at);

CREATE TABLE run_rejects (
  run_id TEXT NOT NULL,
  snapshot_seq INTEGER NOT NULL,
  profile_id TEXT NOT NULL,
  email TEXT,
  reason TEXT NOT NULL,
  PRIMARY KEY (run_id, snapshot_seq)
);

-- A run's frozen copy of its segments' members with the mapped attributes (the frozen snapshot).
-- seq orders rows by email_key (the normalized email), so duplicates are neighbours.
CREATE TABLE run_snapshot (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  profile_id TEXT NOT NULL,
  email_key TEXT,
  data TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);

-- One row per import request of a run: its snapshot range and what Constant Contact said of it.
-- Counts live here, not in the workflow, so a retried chunk is never counted twice.
CREATE TABLE run_chunks (
  run_id TEXT NOT NULL,
  chunk_no INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  contacts INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  rejected INTEGER NOT NULL,
  duplicates INTEGER NOT NULL,
  activity_id TEXT,
  state TEXT NOT NULL,
  imported INTEGER NOT NULL DEFAULT 0,
  unsubscribed INTEGER NOT NULL DEFAULT 0,
  cc_errors INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, chunk_no)
);

-- Mirror mode: the list's members as read from Constant Contact after a run's uploads (ids and
-- normalized emails, never in workflow history), the members leaving the list numbered in order
-- (batches of 500 are seq ranges), one row per remove-list-memberships request, and the run's
-- mirror state (what the guard decided).
CREATE TABLE run_list_members (
  run_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  email_key TEXT,
  PRIMARY KEY (run_id, contact_id)
);

CREATE TABLE run_removals (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  contact_id TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE run_removal_batches (
  run_id TEXT NOT NULL,
  batch_no INTEGER NOT NULL,
  contacts INTEGER NOT NULL,
  activity_id TEXT,
  state TEXT NOT NULL,
  removed INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, batch_no)
);

CREATE TABLE run_mirror (
  run_id TEXT PRIMARY KEY,
  list_id TEXT NOT NULL,
  list_members INTEGER NOT NULL DEFAULT 0,
  planned_removals INTEGER NOT NULL DEFAULT 0,
  decision TEXT,
  decided_at TEXT,
  updated_at TEXT NOT NULL
);

-- Shared pacing of calls to Constant Contact across every worker (the shared rate limit).
CREATE TABLE rate_limits (
  key TEXT PRIMARY KEY,
  next_slot_ms ${bigint(d)} NOT NULL DEFAULT 0,
  window_day TEXT NOT NULL DEFAULT '',
  window_count INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value ${json(d)} NOT NULL,
  updated_at TEXT NOT NULL
);
`,
  },
  ledgerMigration,
  {
    version: 20,
    name: 'audit log',
    sql: (d) => `
-- Every change an admin or a contributor made through the API: who (the role and the fingerprint
-- of the credential, never the credential), what (action, resource, a summary without values),
-- when and in which request. Newest first by (at, id).
CREATE TABLE audit_log (
  id TEXT PRIMARY KEY,
  at TEXT NOT NULL,
  request_id TEXT,
  actor_role TEXT,
  actor_key TEXT,
  action TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT,
  summary ${json(d)} NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log(at, id);

-- Who issued an authorize link, carried to the OAuth state, so that the callback (a browser
-- without a key) is recorded in the audit log as that admin's authorization.
ALTER TABLE authorize_tickets ADD COLUMN issued_by_role TEXT;
ALTER TABLE authorize_tickets ADD COLUMN issued_by_key TEXT;
ALTER TABLE oauth_states ADD COLUMN issued_by_role TEXT;
ALTER TABLE oauth_states ADD COLUMN issued_by_key TEXT;
`,
  },
  {
    version: 21,
    name: 'personal data retention',
    sql: (d) => `
-- Deleting a profile deletes its rows in the tables of personal data of runs (store/personal-data.ts).
CREATE INDEX run_rejects_by_profile ON run_rejects(profile_id);
CREATE INDEX runs_by_finish ON runs(finished_at);

-- Periodic jobs that one process of many runs at a time: the first to claim a due job runs it.
CREATE TABLE job_runs (
  name TEXT PRIMARY KEY,
  last_started_ms ${bigint(d)} NOT NULL
);
`,
  },
  {
    version: 22,
    name: 'connection account',
    sql: () => `
-- The Constant Contact account a connection is authorized for (encoded_account_id). A later
-- authorization must land on the same account unless the admin allowed a change for that link.
ALTER TABLE connections ADD COLUMN account_id TEXT;
ALTER TABLE authorize_tickets ADD COLUMN allow_account_change INTEGER NOT NULL DEFAULT 0;
ALTER TABLE oauth_states ADD COLUMN allow_account_change INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 30,
    name: 'events and webhooks',
    sql: () => `
-- What happened to runs and connections, once per event (the id is derived from what happened, so
-- recording it again changes nothing). payload is the exact JSON body webhooks receive: ids,
-- statuses, counts and codes only.
CREATE TABLE events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  run_id TEXT,
  export_id TEXT,
  connection_id TEXT,
  payload TEXT NOT NULL,
  created_at TEXT NOT NULL
);

-- Endpoints admins registered. secret is sealed with SECRETS_KEY (bound to the webhook id).
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  export_id TEXT,
  secret TEXT,
  created_at TEXT NOT NULL,
  deleted_at TEXT
);

-- One delivery per (webhook, event); each try of it is an attempt.
CREATE TABLE webhook_deliveries (
  id TEXT PRIMARY KEY,
  webhook_id TEXT NOT NULL REFERENCES webhooks(id),
  event_id TEXT NOT NULL REFERENCES events(id),
  workflow_id TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT,
  created_at TEXT NOT NULL,
  finished_at TEXT,
  UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id, created_at);

CREATE TABLE webhook_attempts (
  delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id),
  attempt INTEGER NOT NULL,
  at TEXT NOT NULL,
  status_code INTEGER,
  error TEXT,
  duration_ms INTEGER NOT NULL,
  PRIMARY KEY (delivery_id, attempt)
);
`,
  },
  {
    version: 31,
    name: 'alerts',
    sql: () => `
-- The alerts a run raised when it ended, one per reason, with its figures (counts and thresholds).
CREATE TABLE run_alerts (
  run_id TEXT NOT NULL,
  reason TEXT NOT NULL,
  alert TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (run_id, reason)
);

-- An export's own alert thresholds; a NULL column uses the configured default.
CREATE TABLE export_alert_settings (
  export_id TEXT PRIMARY KEY REFERENCES exports(id),
  rejected_percent REAL,
  run_duration_minutes INTEGER,
  segment_change_percent REAL,
  updated_at TEXT NOT NULL
);
`,
  },
  {
    version: 40,
    name: 'console sessions',
    // The console's signed-in browsers: the session id and the API key are kept only as SHA-256
    // digests; a session ends at expires_at, at sign-out, or when its key is no longer configured.
    sql: () => `
CREATE TABLE console_sessions (
  id_hash TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  key_fingerprint TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions(expires_at);
`,
  },
  {
    version: 50,
    name: 'attribute catalog',
    // Kept up to date by every write of profiles (store/catalog.ts); filled here once by a scan.
    sql: (d) => `
CREATE TABLE profile_attributes (
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  profiles ${bigint(d)} NOT NULL,
  PRIMARY KEY (name, type)
);

INSERT INTO profile_attributes (name, type, profiles) ${scanSql(d)}
`,
  },
  {
    version: 51,
    name: 'store leases',
    // A named lease held by one process at a time (one profile import per store), until it expires.
    sql: (d) => `
CREATE TABLE store_leases (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at ${bigint(d)} NOT NULL
);
`,
  },
];

/** PostgreSQL advisory lock key that serializes migrations of every process on one database. */
const MIGRATION_LOCK = 7233001;

/**
 * Brings the schema up to date. Everything, the migrations table included, happens in one
 * transaction that first takes the lock (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE), so
 * processes starting together on an empty database wait for each other: even `CREATE TABLE IF NOT
 * EXISTS` fails on PostgreSQL when two transactions create the same table at once.
 */
export async function migrate(db: Db): Promise<void> {
  await db.tx(async (tx) => {
    if (db.dialect === 'postgres') await tx.run('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK]);
    await tx.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const applied = new Set((await tx.all<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)));
    for (const m of migrations) {
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
