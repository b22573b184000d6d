import type { Migration } from './migration';

export const consoleSessions: Migration = {
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
};
