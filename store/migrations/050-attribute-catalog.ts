import { scanSql } from '../catalog';
import { type Migration, bigint } from './migration';

export const attributeCatalog: Migration = {
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
};
