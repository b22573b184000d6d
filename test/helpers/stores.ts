import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Store } from '../../store';

export const TEST_SECRETS_KEY = 'a'.repeat(64);
export const testDatabaseUrl = () => process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export type StoreKind = 'sqlite' | 'postgres';
export const storeKinds: StoreKind[] = ['sqlite', 'postgres'];

export interface TestStore {
  store: Store;
  kind: StoreKind;
  /** Where the data lives: the SQLite file, or the PostgreSQL schema. */
  location: string;
  /** Connection settings for another process (a worker or API child) to open the same store. */
  env: Record<string, string>;
  destroy(): Promise<void>;
}

/** A fresh, empty, migrated store: a new SQLite file or a new PostgreSQL schema. */
export async function createTestStore(kind: StoreKind): Promise<TestStore> {
  const suffix = randomBytes(6).toString('hex');
  if (kind === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-store-'));
    const file = path.join(dir, 'segment-export.db');
    const store = await openStore({ sqliteFile: file, secretsKey: TEST_SECRETS_KEY });
    return {
      store,
      kind,
      location: file,
      env: { DATA_DIR: dir, SECRETS_KEY: TEST_SECRETS_KEY },
      destroy: async () => {
        await store.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_${suffix}`;
  const admin = new pg.Client({ connectionString: testDatabaseUrl() });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const store = await openStore({ databaseUrl: testDatabaseUrl(), schema, secretsKey: TEST_SECRETS_KEY });
  const url = new URL(testDatabaseUrl());
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    store,
    kind,
    location: schema,
    env: { DATABASE_URL: url.toString(), SECRETS_KEY: TEST_SECRETS_KEY },
    destroy: async () => {
      await store.close();
      const c = new pg.Client({ connectionString: testDatabaseUrl() });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

/** Another Store over the same database (another process would open it the same way). */
export async function openSameStore(ts: TestStore): Promise<Store> {
  return ts.kind === 'sqlite'
    ? openStore({ sqliteFile: ts.location, secretsKey: TEST_SECRETS_KEY })
    : openStore({ databaseUrl: testDatabaseUrl(), schema: ts.location, secretsKey: TEST_SECRETS_KEY });
}
