import { createTestStore, storeKinds, type TestStore } from '../helpers/stores';

describe.each(storeKinds)('console sessions in the store (%s)', (kind) => {
  let t: TestStore;
  beforeAll(async () => {
    t = await createTestStore(kind);
  });
  afterAll(() => t.destroy());

  const session = (idHash: string, createdAt: string, expiresAt: string) => ({ idHash, role: 'admin' as const, keyFingerprint: 'f'.repeat(64), createdAt, expiresAt });

  it('finds a session until it expires, and not after it is deleted', async () => {
    await t.store.consoleSessions.create(session('a'.repeat(64), '2030-01-01T08:00:00.000Z', '2030-01-01T16:00:00.000Z'));
    expect(await t.store.consoleSessions.find('a'.repeat(64), '2030-01-01T15:59:59.999Z')).toEqual(session('a'.repeat(64), '2030-01-01T08:00:00.000Z', '2030-01-01T16:00:00.000Z'));
    expect(await t.store.consoleSessions.find('a'.repeat(64), '2030-01-01T16:00:00.000Z')).toBeUndefined();
    expect(await t.store.consoleSessions.find('b'.repeat(64), '2030-01-01T09:00:00.000Z')).toBeUndefined();
    expect(await t.store.consoleSessions.delete('a'.repeat(64))).toBe(true);
    expect(await t.store.consoleSessions.find('a'.repeat(64), '2030-01-01T09:00:00.000Z')).toBeUndefined();
    expect(await t.store.consoleSessions.delete('a'.repeat(64))).toBe(false);
  });

  it('drops expired sessions when a new one is created', async () => {
    await t.store.consoleSessions.create(session('c'.repeat(64), '2030-01-02T08:00:00.000Z', '2030-01-02T09:00:00.000Z'));
    await t.store.consoleSessions.create(session('d'.repeat(64), '2030-01-02T08:30:00.000Z', '2030-01-02T16:30:00.000Z'));
    await t.store.consoleSessions.create(session('e'.repeat(64), '2030-01-02T10:00:00.000Z', '2030-01-02T18:00:00.000Z'));
    const rows = await t.store.db.all<{ id_hash: string }>('SELECT id_hash FROM console_sessions ORDER BY id_hash');
    expect(rows.map((r) => r.id_hash[0])).toEqual(['d', 'e']);
  });
});
