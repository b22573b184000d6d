import type { Migration } from './migration';

export const snapshotProgress: Migration = {
  version: 60,
  name: 'snapshot progress',
  // A run's snapshot is written in batches while its uploads read it: `profiles` is its size,
  // counted in the same view before the first row, `taken` the rows committed so far (seq 1..taken).
  // It is complete when taken = profiles.
  sql: () => `
CREATE TABLE run_snapshot_progress (
  run_id TEXT PRIMARY KEY,
  profiles INTEGER NOT NULL,
  taken INTEGER NOT NULL
);
`,
};
