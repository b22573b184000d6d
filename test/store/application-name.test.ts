import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import pg from 'pg';
import { openStore, type Store } from '../../store';
import { TEST_SECRETS_KEY, testDatabaseUrl } from '../helpers/stores';

/**
 * An operator looking at `pg_stat_activity` sees which process of the product holds each
 * connection, and which of them an import holds.
 */
describe('PostgreSQL connections name their process', () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const stores: Store[] = [];
  const admin = new pg.Client({ connectionString: testDatabaseUrl() });

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
  });
  afterAll(async () => {
    for (const store of stores) await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  const open = async (processName?: string) => {
    const store = await openStore({ databaseUrl: testDatabaseUrl(), schema, secretsKey: TEST_SECRETS_KEY, processName });
    stores.push(store);
    return store;
  };
  const ownName = async (store: Store) => (await store.db.get<{ application_name: string }>('SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()'))!.application_name;

  it('a process named api shows as "segment-export api"; one without a name as "segment-export"', async () => {
    expect(await ownName(await open('api'))).toBe('segment-export api');
    expect(await ownName(await open())).toBe('segment-export');
  });

  it('an import runs on connections of its own, "segment-export worker import" for the worker', async () => {
    const store = await open('worker');
    const body = ['{"id":"app-name-1","email":"a@example.com"}', '{"id":"app-name-2"}'].join('\n');
    const result = await store.imports.run(Readable.from([body]), 'ndjson', {});
    expect(result.upserted).toBe(2);
    // The import thread's pool keeps its connections a while after the import.
    const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'segment-export worker import' AND datname = current_database()`);
    expect(Number(rows[0].n)).toBeGreaterThanOrEqual(1);
  });
});
