import { SnapshotTooLargeError, type SnapshotRow } from '../../store/snapshots';
import type { Mapping } from '../../store/types';
import { createTestStore, storeKinds, type TestStore } from '../helpers/stores';

const mapping: Mapping = { email: 'Email', firstName: 'FirstName', customFields: { loyalty_tier: 'Tier', city_field: 'City' } };

/** Fictional profiles: duplicate emails in different cases, missing and non-string emails, extra attributes. */
function people(n: number) {
  return Array.from({ length: n }, (_, i) => {
    const id = `m${String(i).padStart(4, '0')}`;
    const attributes: Record<string, string | number | boolean | null> = {
      FirstName: i % 3 === 0 ? 'Jānis' : 'Līga',
      Tier: i % 2 ? 'gold' : 'silver',
      Secret: `not-exported-${i}`,
      Country: i % 2 ? 'LV' : 'EE',
    };
    if (i % 10 === 0) {
      // no Email at all
    } else if (i % 10 === 1) attributes.Email = 12345;
    else if (i % 10 === 2) attributes.Email = '   ';
    else attributes.Email = i % 7 === 0 ? ` Shared.Person@Example.TEST ` : `person${i}@example.test`;
    if (i % 7 === 0 && i % 10 >= 3) attributes.Email = i % 2 ? 'shared.person@example.test' : ' SHARED.PERSON@example.test';
    return { id, attributes };
  });
}

async function readAll(t: TestStore, runId: string, pageSize: number, between?: (page: number) => Promise<void>): Promise<SnapshotRow[]> {
  const rows: SnapshotRow[] = [];
  let after = 0;
  for (let page = 0; ; page++) {
    const batch = await t.store.snapshots.readPage(runId, after, pageSize);
    if (batch.length === 0) return rows;
    rows.push(...batch);
    after = batch[batch.length - 1].seq;
    if (between) await between(page);
  }
}

describe.each(storeKinds)('run snapshots on %s', (kind) => {
  let t: TestStore;
  let lv: string;
  let gold: string;
  let ee: string;
  const initial = people(120);

  beforeAll(async () => {
    t = await createTestStore(kind);
    await t.store.profiles.upsertMany(initial);
    lv = (await t.store.segments.create({ name: 'Latvia', rule: { attribute: 'Country', op: 'eq', value: 'LV' } })).id;
    gold = (await t.store.segments.create({ name: 'Gold', rule: { attribute: 'Tier', op: 'eq', value: 'gold' } })).id;
    ee = (await t.store.segments.create({ name: 'Estonia', rule: { attribute: 'Country', op: 'eq', value: 'EE' } })).id;
    for (const id of [lv, gold, ee]) await t.store.segments.refresh(id);
  });
  afterAll(() => t.destroy());

  it('counts the union of the segments, each profile once', async () => {
    expect(await t.store.snapshots.count([lv])).toBe(60);
    expect(await t.store.snapshots.count([lv, gold])).toBe(60); // gold = the odd ones = LV
    expect(await t.store.snapshots.count([lv, ee])).toBe(120);
    expect(await t.store.snapshots.count([lv, lv])).toBe(60);
    expect(await t.store.snapshots.count([])).toBe(0);
  });

  it('copies each member once, ordered by email key then id, with only the mapped attributes', async () => {
    const created = await t.store.snapshots.create('run_order', { segmentIds: [lv, ee, gold], mapping });
    expect(created).toEqual({ profiles: 120 });
    const rows = await readAll(t, 'run_order', 17);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.profileId)).size).toBe(120);

    const byId = new Map(initial.map((p) => [p.id, p.attributes]));
    const expectedKey = (email: unknown) => (typeof email === 'string' && email.trim() ? email.trim().toLowerCase() : null);
    for (const r of rows) {
      const a = byId.get(r.profileId)!;
      expect(r.emailKey).toBe(expectedKey(a.Email));
      expect(r.data).toEqual({ Email: a.Email ?? null, FirstName: a.FirstName, Tier: a.Tier, City: null });
      expect(Object.keys(r.data)).not.toContain('Secret');
    }
    // Keys ascending (code point order), rows without a key last, ties by profile id.
    const keyed = rows.filter((r) => r.emailKey !== null);
    const sorted = [...keyed].sort((x, y) => (x.emailKey! < y.emailKey! ? -1 : x.emailKey! > y.emailKey! ? 1 : x.profileId < y.profileId ? -1 : 1));
    expect(keyed.map((r) => r.profileId)).toEqual(sorted.map((r) => r.profileId));
    const unkeyed = rows.slice(keyed.length);
    expect(unkeyed.every((r) => r.emailKey === null)).toBe(true);
    expect(unkeyed.map((r) => r.profileId)).toEqual([...unkeyed.map((r) => r.profileId)].sort());
    // Case-insensitive duplicates are neighbours.
    const shared = rows.filter((r) => r.emailKey === 'shared.person@example.test').map((r) => r.seq);
    expect(shared.length).toBeGreaterThan(3);
    expect(shared[shared.length - 1] - shared[0]).toBe(shared.length - 1);
    expect(await t.store.snapshots.drop('run_order')).toBe(120);
  });

  it('is idempotent: a retried create keeps the first snapshot', async () => {
    expect(await t.store.snapshots.create('run_retry', { segmentIds: [lv], mapping })).toEqual({ profiles: 60 });
    await t.store.profiles.upsertMany([{ id: 'new-lv', attributes: { Country: 'LV', Email: 'new@example.test' } }]);
    await t.store.segments.refresh(lv);
    expect(await t.store.snapshots.create('run_retry', { segmentIds: [lv], mapping })).toEqual({ profiles: 60 });
    const [again] = await Promise.all([
      t.store.snapshots.create('run_retry', { segmentIds: [lv], mapping }),
      t.store.snapshots.create('run_retry', { segmentIds: [lv], mapping }),
    ]);
    expect(again).toEqual({ profiles: 60 });
    expect((await readAll(t, 'run_retry', 1000)).map((r) => r.profileId)).not.toContain('new-lv');
    await t.store.snapshots.drop('run_retry');
    await t.store.profiles.delete('new-lv');
    await t.store.segments.refresh(lv);
  });

  it('reads the original members exactly once each while profiles change and the segment refreshes', async () => {
    const before = await t.store.segments.memberIds(lv);
    expect(before).toHaveLength(60);
    await t.store.snapshots.create('run_stable', { segmentIds: [lv], mapping });
    const original = await readAll(t, 'run_stable', 1000);

    const pages: SnapshotRow[] = [];
    let after = 0;
    for (let page = 0; ; page++) {
      const batch = await t.store.snapshots.readPage('run_stable', after, 7);
      if (batch.length === 0) break;
      pages.push(...batch);
      after = batch[batch.length - 1].seq;
      // Between page reads: move members out, bring new ones in, rename, delete, refresh.
      const i = page * 3;
      await t.store.profiles.upsertMany([
        { id: before[i % before.length], attributes: { Country: 'EE', Email: 'moved@example.test', FirstName: 'Changed' } },
        { id: `late-${page}`, attributes: { Country: 'LV', Email: `a${page}@example.test`, FirstName: 'Early' } },
        { id: before[(i + 1) % before.length], attributes: { Country: 'LV', Email: 'aaa@example.test', FirstName: 'Renamed' } },
      ]);
      await t.store.profiles.delete(before[(i + 2) % before.length]);
      await t.store.segments.refresh(lv);
    }
    expect(pages).toEqual(original);
    expect(pages.map((r) => r.profileId).sort()).toEqual([...before].sort());
    expect(pages.some((r) => r.data.FirstName === 'Changed' || r.data.FirstName === 'Renamed' || r.data.FirstName === 'Early')).toBe(false);
    expect(await t.store.segments.memberIds(lv)).not.toEqual(before);
    expect(await t.store.snapshots.drop('run_stable')).toBe(60);
    expect(await t.store.snapshots.readPage('run_stable', 0, 10)).toEqual([]);
  });

  it('refuses a snapshot larger than maxProfiles and keeps nothing', async () => {
    const size = await t.store.snapshots.count([lv, ee]);
    await expect(t.store.snapshots.create('run_big', { segmentIds: [lv, ee], mapping, maxProfiles: size - 1 })).rejects.toBeInstanceOf(SnapshotTooLargeError);
    expect(await t.store.snapshots.size('run_big')).toBe(0);
    expect(await t.store.snapshots.create('run_big', { segmentIds: [lv, ee], mapping, maxProfiles: size })).toEqual({ profiles: size });
    await t.store.snapshots.drop('run_big');
  });

  it('reads attribute names that need quoting in a JSON path', async () => {
    await t.store.profiles.upsertMany([{ id: 'odd', attributes: { 'e"mail': ' Odd@Example.Test', 'first.name': 'Ōdd', "it's": true, Country: 'XX' } }]);
    const seg = await t.store.segments.create({ name: 'XX', rule: { attribute: 'Country', op: 'eq', value: 'XX' } });
    await t.store.segments.refresh(seg.id);
    await t.store.snapshots.create('run_odd', { segmentIds: [seg.id], mapping: { email: 'e"mail', firstName: 'first.name', customFields: { flag: "it's" } } });
    expect(await t.store.snapshots.readPage('run_odd', 0, 10)).toEqual([
      { seq: 1, profileId: 'odd', emailKey: 'odd@example.test', data: { 'e"mail': ' Odd@Example.Test', 'first.name': 'Ōdd', "it's": true } },
    ]);
    await t.store.snapshots.drop('run_odd');
  });

  describe('taken while its first rows are read', () => {
    // More than PostgreSQL's first slice (50,000 rows) and SQLite's batches (5,000 rows).
    const BULK = 60_000;
    const firstReadable = kind === 'postgres' ? 50_000 : 5_000;
    let bulk: string;
    const bulkId = (i: number) => `b${String(i).padStart(5, '0')}`;
    beforeAll(async () => {
      await t.store.profiles.upsertMany(Array.from({ length: BULK }, (_, i) => ({ id: bulkId(i), attributes: { Country: 'NO', Email: `${bulkId(i)}@example.test` } })));
      bulk = (await t.store.segments.create({ name: 'Norway', rule: { attribute: 'Country', op: 'eq', value: 'NO' } })).id;
      await t.store.segments.refresh(bulk);
    });

    it('commits its first rows for readers before the rest, and every row is from the view at its start', async () => {
      const seen: { progress: unknown; readable: number }[] = [];
      const counted: number[] = [];
      const created = await t.store.snapshots.create(
        'run_batches',
        { segmentIds: [bulk], mapping },
        {
          // Once the view is open, before any row is copied: a member deleted, one renamed, one added.
          onCounted: async (n) => {
            counted.push(n);
            await t.store.profiles.delete(bulkId(BULK - 1));
            await t.store.profiles.upsertMany([
              { id: bulkId(BULK - 2), attributes: { Country: 'NO', Email: 'a-renamed@example.test' } },
              { id: 'b-late', attributes: { Country: 'NO', Email: 'zz-late@example.test' } },
            ]);
            await t.store.segments.refresh(bulk);
          },
          onBatch: async () => {
            if (seen.length > 0) return;
            // Readers go by the progress: every row it names can be read.
            const progress = await t.store.snapshots.progress('run_batches');
            seen.push({ progress, readable: (await t.store.snapshots.readPage('run_batches', 0, progress!.taken)).length });
          },
        },
      );
      expect(counted).toEqual([BULK]);
      expect(seen).toEqual([{ progress: { profiles: BULK, taken: firstReadable }, readable: firstReadable }]);
      expect(created).toEqual({ profiles: BULK });
      expect(await t.store.snapshots.progress('run_batches')).toEqual({ profiles: BULK, taken: BULK });
      const rows = await readAll(t, 'run_batches', 5000);
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: BULK }, (_, i) => i + 1));
      expect(rows.map((r) => r.profileId)).toEqual(Array.from({ length: BULK }, (_, i) => bulkId(i)));
      expect(rows[BULK - 2].data.Email).toBe(`${bulkId(BULK - 2)}@example.test`);
      expect(await t.store.snapshots.drop('run_batches')).toBe(BULK);
      expect(await t.store.snapshots.progress('run_batches')).toBeUndefined();
    });

    it('goes on after the last recorded row when an attempt stopped mid-way: each member once, no gap in seq', async () => {
      const stop = new Error('worker lost');
      await expect(
        t.store.snapshots.create('run_resumed', { segmentIds: [bulk], mapping }, {
          onBatch: () => {
            throw stop;
          },
        }),
      ).rejects.toBe(stop);
      const profiles = await t.store.snapshots.count([bulk]);
      expect(await t.store.snapshots.progress('run_resumed')).toEqual({ profiles, taken: firstReadable });
      expect(await t.store.snapshots.create('run_resumed', { segmentIds: [bulk], mapping })).toEqual({ profiles });
      const rows = await readAll(t, 'run_resumed', 5000);
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: profiles }, (_, i) => i + 1));
      expect(new Set(rows.map((r) => r.profileId)).size).toBe(profiles);
      const keys = rows.map((r) => r.emailKey!);
      expect(keys).toEqual([...keys].sort());
      await t.store.snapshots.drop('run_resumed');
    });
  });
});
