import type { Migration } from './migration';

export const alerts: Migration = {
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
};
