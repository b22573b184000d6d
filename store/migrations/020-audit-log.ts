import { type Migration, json } from './migration';

export const auditLog: Migration = {
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
};
