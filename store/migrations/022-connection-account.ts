import type { Migration } from './migration';

export const connectionAccount: Migration = {
  version: 22,
  name: 'connection account',
  sql: () => `
-- The Constant Contact account a connection is authorized for (encoded_account_id). A later
-- authorization must land on the same account unless the admin allowed a change for that link.
ALTER TABLE connections ADD COLUMN account_id TEXT;
ALTER TABLE authorize_tickets ADD COLUMN allow_account_change INTEGER NOT NULL DEFAULT 0;
ALTER TABLE oauth_states ADD COLUMN allow_account_change INTEGER NOT NULL DEFAULT 0;
`,
};
