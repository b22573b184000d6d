import { json, type Migration } from './migration';

/**
 * The delivery ledger and what a run needs to send only what changed: what each export delivered
 * to its list, the contacts a chunk carries until its import completes, the profiles a run chose
 * not to send, and the list's members read before the uploads (by email: a contact export has no
 * contact ids). The per-run tables hold rows only while their run is going; nothing in a released
 * schema used them, so they are recreated.
 */
export const deliveryLedger: Migration = {
  version: 10,
  name: 'delivery ledger',
  sql: (d) => `
CREATE TABLE delivery_ledger (
  export_id TEXT NOT NULL,
  list_id TEXT NOT NULL,
  email_key TEXT NOT NULL,
  hash TEXT NOT NULL,
  contact_id TEXT,
  state TEXT NOT NULL,
  run_id TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (export_id, list_id, email_key)
);

CREATE TABLE run_deliveries (
  run_id TEXT NOT NULL,
  chunk_no INTEGER NOT NULL,
  email_key TEXT NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (run_id, chunk_no, email_key)
);

CREATE TABLE run_suppressions (
  run_id TEXT NOT NULL,
  snapshot_seq INTEGER NOT NULL,
  profile_id TEXT NOT NULL,
  email TEXT,
  reason TEXT NOT NULL,
  PRIMARY KEY (run_id, snapshot_seq)
);
CREATE INDEX run_suppressions_by_profile ON run_suppressions(profile_id);

DROP TABLE run_list_members;
CREATE TABLE run_list_members (
  run_id TEXT NOT NULL,
  email_key TEXT NOT NULL,
  contact_id TEXT,
  PRIMARY KEY (run_id, email_key)
);

DROP TABLE run_removals;
CREATE TABLE run_removals (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  email_key TEXT NOT NULL,
  contact_id TEXT,
  PRIMARY KEY (run_id, seq)
);

ALTER TABLE run_chunks ADD COLUMN added INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_chunks ADD COLUMN updated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_chunks ADD COLUMN unchanged INTEGER NOT NULL DEFAULT 0;
ALTER TABLE run_chunks ADD COLUMN suppressed INTEGER NOT NULL DEFAULT 0;

ALTER TABLE runs ADD COLUMN dry_run INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN full_resync INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN plan ${json(d)};

-- A dry run changes nothing: it does not hold the export's one running run.
DROP INDEX runs_one_running;
CREATE UNIQUE INDEX runs_one_running ON runs(export_id) WHERE status = 'running' AND dry_run = 0;
`,
};
