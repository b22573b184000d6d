import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openPostgres, openSqlite, type Db } from '../../store/db';
import { migrate, migrations } from '../../store/migrations';
import { storeKinds, testDatabaseUrl, type StoreKind } from '../helpers/stores';

/** An empty database of one kind, opened without migrating, and how to throw it away. */
async function emptyDatabase(kind: StoreKind): Promise<{ db: Db; name: string; drop(): Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-migrate-'));
    const db = openSqlite(path.join(dir, 'store.db'));
    return { db, name: 'main', drop: async () => { await db.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
  }
  const schema = `m_${randomBytes(6).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: testDatabaseUrl() });
    await c.connect();
    await c.query(sql);
    await c.end();
  };
  await admin(`CREATE SCHEMA ${schema}`);
  const db = openPostgres(testDatabaseUrl(), { schema, max: 2 });
  return { db, name: schema, drop: async () => { await db.close(); await admin(`DROP SCHEMA ${schema} CASCADE`); } };
}

/** Tables, columns, indexes and constraints, as the database describes them (names of the schema left out). */
async function schemaOf(db: Db, name: string): Promise<unknown[]> {
  if (db.dialect === 'sqlite') {
    return db.all("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name");
  }
  const columns = await db.all(
    `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
     WHERE table_schema = ? ORDER BY table_name, column_name`,
    [name],
  );
  const indexes = await db.all<{ indexdef: string }>('SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = ? ORDER BY indexname', [name]);
  const constraints = await db.all<{ definition: string }>(
    `SELECT c.conname, pg_get_constraintdef(c.oid) AS definition FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
     WHERE n.nspname = ? ORDER BY c.conname`,
    [name],
  );
  return [
    ...columns,
    ...indexes.map((i) => ({ ...i, indexdef: i.indexdef.replaceAll(`${name}.`, '') })),
    ...constraints.map((c) => ({ ...c, definition: c.definition.replaceAll(`${name}.`, '') })),
  ];
}

describe.each(storeKinds)('migrating a %s database', (kind) => {
  let fresh: Awaited<ReturnType<typeof emptyDatabase>>;
  let current: unknown[];
  beforeAll(async () => {
    fresh = await emptyDatabase(kind);
    await migrate(fresh.db);
    current = await schemaOf(fresh.db, fresh.name);
  });
  afterAll(() => fresh.drop());

  // Every earlier release: the database it left has the first `applied` migrations.
  it.each(migrations.slice(0, -1).map((m, i) => [m.version, i + 1]))(
    'brings a database at version %i up to the current schema',
    async (_version, applied) => {
      const old = await emptyDatabase(kind);
      try {
        await migrate(old.db, migrations.slice(0, applied));
        await old.db.run('INSERT INTO profiles (id, attributes, updated_at) VALUES (?, ?, ?)', ['p1', '{"a":1}', new Date().toISOString()]);
        await migrate(old.db);
        expect(await schemaOf(old.db, old.name)).toEqual(current);
        const versions = await old.db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
        expect(versions.map((r) => Number(r.version))).toEqual(migrations.map((m) => m.version));
        expect(await old.db.all('SELECT id FROM profiles')).toEqual([{ id: 'p1' }]);
      } finally {
        await old.drop();
      }
    },
  );

  it('changes nothing when every migration is applied', async () => {
    await migrate(fresh.db);
    expect(await schemaOf(fresh.db, fresh.name)).toEqual(current);
  });
});
