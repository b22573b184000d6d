import type pg from 'pg';
import { createTestStore, type TestStore } from '../helpers/stores';

/**
 * On PostgreSQL, many clients polling the same record at once cost one statement at a time; each
 * still sees what was committed before it asked.
 */
describe('shared reads on PostgreSQL', () => {
  let t: TestStore;
  beforeAll(async () => {
    t = await createTestStore('postgres');
  });
  afterAll(() => t.destroy());

  function countStatements(pool: pg.Pool, fragment: string): { count: number; restore(): void } {
    const counter = { count: 0, restore: () => (pool.query = original) };
    const original = pool.query;
    pool.query = ((...args: Parameters<pg.Pool['query']>) => {
      if (String(args[0]).includes(fragment)) counter.count++;
      return (original as (...a: unknown[]) => unknown).apply(pool, args);
    }) as pg.Pool['query'];
    return counter;
  }

  it('answers 30 concurrent reads of a segment with fewer statements, each the same answer', async () => {
    const segment = await t.store.segments.create({ name: 'polled', rule: { attribute: 'plan', op: 'eq', value: 'pro' } });
    const statements = countStatements((t.store.db as unknown as { pool: pg.Pool }).pool, 'FROM segments WHERE id');
    try {
      const answers = await Promise.all(Array.from({ length: 30 }, () => t.store.segments.get(segment.id)));
      expect(answers).toEqual(Array.from({ length: 30 }, () => segment));
      expect(statements.count).toBeGreaterThanOrEqual(1);
      expect(statements.count).toBeLessThanOrEqual(2);
    } finally {
      statements.restore();
    }
  });

  it('a read asked after a write has committed sees it, though the same read began before the write', async () => {
    const segment = await t.store.segments.create({ name: 'before', rule: { attribute: 'plan', op: 'eq', value: 'pro' } });
    // A statement that reads at its start and takes 300 ms to answer.
    const slowRead = 'SELECT s.name FROM segments s, pg_sleep(0.3) WHERE s.id = ?';
    const early = t.store.db.allShared<{ name: string }>(slowRead, [segment.id]);
    await new Promise((r) => setTimeout(r, 100));
    await t.store.db.run('UPDATE segments SET name = ? WHERE id = ?', ['after', segment.id]);
    const late = t.store.db.allShared<{ name: string }>(slowRead, [segment.id]);
    expect((await early)[0].name).toBe('before');
    expect((await late)[0].name).toBe('after');
  });

  it('reads inside a transaction are not shared: they see the transaction’s own writes', async () => {
    const segment = await t.store.segments.create({ name: 'outside', rule: { attribute: 'plan', op: 'eq', value: 'pro' } });
    const seen = await t.store.db.tx(async (tx) => {
      await tx.run('UPDATE segments SET name = ? WHERE id = ?', ['inside', segment.id]);
      const [inTx, outside] = await Promise.all([tx.allShared<{ name: string }>('SELECT name FROM segments WHERE id = ?', [segment.id]), t.store.segments.get(segment.id)]);
      return { inTx: inTx[0].name, outside: outside?.name };
    });
    expect(seen).toEqual({ inTx: 'inside', outside: 'outside' });
  });
});
