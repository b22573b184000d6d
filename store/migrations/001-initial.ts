import { type Migration, bigint, json } from './migration';

/**
 * The schema of the first release: profiles and segments, connections, exports, runs and their
 * per-run tables, the shared rate limit and settings.
 */
export const initialSchema: Migration = {
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
};
