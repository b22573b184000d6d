import { scanSql, summarize } from '../../store/catalog';
import { migrate } from '../../store/migrations';
import type { Store } from '../../store';
import type { Attributes, AttributeValue } from '../../store/types';
import { createTestStore, openSameStore, storeKinds, type TestStore } from '../helpers/stores';

/**
 * The attribute catalog against the scan it replaces: after random imports, re-imports and deletes,
 * run at the same time from two connections (as two API processes would), it answers exactly what
 * counting every profile's attributes answers.
 */

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ['Country', 'age', 'vip', 'email', 'tier', 'score', 'note', 'Ünïcode'];

function randomAttributes(next: () => number): Attributes {
  const attributes: Attributes = {};
  for (const name of NAMES) {
    if (next() < 0.4) continue;
    const kind = Math.floor(next() * 4);
    const value: AttributeValue = kind === 0 ? `v${Math.floor(next() * 5)}` : kind === 1 ? Math.floor(next() * 100) : kind === 2 ? next() < 0.5 : null;
    attributes[name] = value;
  }
  return attributes;
}

async function scan(store: Store) {
  return summarize(await store.db.all<{ name: string; type: string; n: number }>(scanSql(store.db.dialect)));
}

describe.each(storeKinds)('the attribute catalog on %s', (kind) => {
  let ts: TestStore;
  let other: Store;
  beforeAll(async () => {
    ts = await createTestStore(kind);
    other = await openSameStore(ts);
  });
  afterAll(async () => {
    await other.close();
    await ts.destroy();
  });

  it('answers what the scan answers after concurrent random imports, re-imports and deletes', async () => {
    const next = random(20240501);
    const id = () => `p${Math.floor(next() * 400)}`;
    for (let round = 0; round < 12; round++) {
      const work: Promise<unknown>[] = [];
      for (const store of [ts.store, other]) {
        const batch = Array.from({ length: 1 + Math.floor(next() * 60) }, () => ({ id: id(), attributes: randomAttributes(next) }));
        work.push(store.profiles.upsertMany(batch));
        for (let d = 0; d < 5; d++) work.push(store.profiles.delete(id()));
      }
      await Promise.all(work);
    }
    expect(await ts.store.profiles.count()).toBeGreaterThan(100);
    const catalog = await ts.store.profiles.attributes();
    expect(catalog).toEqual(await scan(ts.store));
    expect(catalog.map((a) => a.name).sort()).toEqual([...NAMES].sort());
  });

  it('moves the counts of a re-imported profile to its new attributes and drops names nobody has', async () => {
    await ts.store.db.run('DELETE FROM profiles');
    await ts.store.db.run('DELETE FROM profile_attributes');
    await ts.store.profiles.upsertMany([
      { id: 'm1', attributes: { Country: 'LV', age: 30, legacy: 'x' } },
      { id: 'm2', attributes: { Country: null, age: '41' } },
    ]);
    await ts.store.profiles.upsertMany([{ id: 'm1', attributes: { Country: 'EE', age: true } }]);
    expect(await ts.store.profiles.attributes()).toEqual([
      { name: 'Country', profiles: 2, types: ['string', 'null'] },
      { name: 'age', profiles: 2, types: ['string', 'boolean'] },
    ]);
    await ts.store.profiles.delete('m2');
    expect(await ts.store.profiles.attributes()).toEqual([
      { name: 'Country', profiles: 1, types: ['string'] },
      { name: 'age', profiles: 1, types: ['boolean'] },
    ]);
    expect(await ts.store.profiles.attributes()).toEqual(await scan(ts.store));
  });

  it('is filled from the profiles already stored when its migration runs', async () => {
    await ts.store.db.run('DELETE FROM profiles');
    await ts.store.profiles.upsertMany(Array.from({ length: 50 }, (_, i) => ({ id: `f${i}`, attributes: randomAttributes(random(i)) })));
    const expected = await scan(ts.store);
    await ts.store.db.run('DROP TABLE profile_attributes');
    await ts.store.db.run('DELETE FROM schema_migrations WHERE version = 50');
    await migrate(ts.store.db);
    expect(await ts.store.profiles.attributes()).toEqual(expected);
  });
});
