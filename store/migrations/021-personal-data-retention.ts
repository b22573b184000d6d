import { type Migration, bigint } from './migration';

export const personalDataRetention: Migration = {
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
};
