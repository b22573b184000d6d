import { type Migration, bigint } from './migration';

export const storeLeases: Migration = {
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
};
