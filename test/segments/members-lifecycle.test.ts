import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Store } from '../../store';
import { createTestStore, TEST_SECRETS_KEY, testDatabaseUrl, type TestStore } from '../helpers/stores';

/**
 * On PostgreSQL no foreign key ties a member row to its segment (checking one per inserted row was
 * half of a large refresh's time); the segment's row lock does: a delete or a rule change that comes
 * while a refresh is writing waits for it, then removes every member it wrote.
 */

const PROFILES = 60_000;

describe('a segment deleted or given a new rule while it is refreshed (PostgreSQL)', () => {
  let ts: TestStore;
  let store: Store;
  let admin: pg.Client;
  // Its connections carry a name of their own, so the wait below sees this test's refresh only (a
  // refresh runs on the store's pool for jobs, named `… jobs`).
  const processName = `members-lifecycle ${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    ts = await createTestStore('postgres');
    store = await openStore({ databaseUrl: testDatabaseUrl(), schema: ts.location, secretsKey: TEST_SECRETS_KEY, processName });
    admin = new pg.Client({ connectionString: testDatabaseUrl() });
    await admin.connect();
    for (let from = 0; from < PROFILES; from += 10_000) {
      await ts.store.profiles.upsertMany(Array.from({ length: 10_000 }, (_, k) => ({ id: `p${from + k}`, attributes: { email: `p${from + k}@example.com` } })));
    }
  }, 120_000);
  afterAll(async () => {
    await store.close();
    await admin.end();
    await ts.destroy();
  });

  /** Resolves once this schema's refresh is inserting members (its statement is under way). */
  async function refreshWriting(): Promise<void> {
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
      const { rows } = await admin.query(
        "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query LIKE 'INSERT INTO segment_members%'",
        [`segment-export ${processName} jobs`],
      );
      if (rows.length > 0) return;
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('the refresh never started inserting members');
  }

  const membersOf = async (id: string) =>
    Number((await admin.query(`SELECT COUNT(*) AS n FROM ${ts.location}.segment_members WHERE segment_id = $1`, [id])).rows[0].n);

  it('a delete leaves no member behind', async () => {
    const segment = await store.segments.create({ name: 'Everyone', rule: { all: [] } });
    const refresh = store.segments.refresh(segment.id);
    await refreshWriting();
    const deleted = await store.segments.delete(segment.id);
    expect(await refresh).toMatchObject({ memberCount: PROFILES });
    expect(deleted).toEqual({ deleted: true });
    expect(await membersOf(segment.id)).toBe(0);
  });

  it('a new rule leaves no member of the old one', async () => {
    const segment = await store.segments.create({ name: 'Everyone', rule: { all: [] } });
    const refresh = store.segments.refresh(segment.id);
    await refreshWriting();
    const updated = await store.segments.update(segment.id, { rule: { attribute: 'email', op: 'eq', value: 'nobody@example.com' } });
    expect(await refresh).toMatchObject({ memberCount: PROFILES });
    expect(updated).toMatchObject({ memberCount: null });
    expect(await membersOf(segment.id)).toBe(0);
  });
});
