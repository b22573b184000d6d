import { storeKinds } from '../helpers/stores';
import { createProfilesApp, FIXTURE_PROFILES, seedProfiles, type ProfilesApp } from '../helpers/profiles';

const LV = { attribute: 'Country', op: 'eq', value: 'LV' };

describe.each(storeKinds)('segment routes on %s', (kind) => {
  let app: ProfilesApp;
  beforeAll(async () => {
    app = await createProfilesApp(kind);
    await seedProfiles(app.store);
  });
  afterAll(() => app.close());

  const tables = async () => ({
    segments: await app.store.db.all('SELECT * FROM segments ORDER BY id'),
    members: await app.store.db.all('SELECT * FROM segment_members ORDER BY segment_id, profile_id'),
    profiles: await app.store.db.all('SELECT id FROM profiles ORDER BY id'),
  });

  it('creates a segment that is not refreshed yet, then refreshes it', async () => {
    const created = await app.request('POST', '/v1/segments', { body: { name: '  Latvia  ', rule: LV } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.stringMatching(/^seg_/), name: 'Latvia', rule: LV, memberCount: null, refreshedAt: null });
    const refreshed = await app.request('POST', `/v1/segments/${created.body.id}/refresh`);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toEqual({ id: created.body.id, memberCount: 2, refreshedAt: expect.any(String) });
    const got = await app.request('GET', `/v1/segments/${created.body.id}`, { role: 'contributor' });
    expect(got.body).toMatchObject({ memberCount: 2, refreshedAt: refreshed.body.refreshedAt });
    expect(await app.store.segments.memberIds(created.body.id)).toEqual(['p01', 'p02']);
  });

  it('puts a profile in or out of the segment at the next refresh', async () => {
    const seg = (await app.request('POST', '/v1/segments', { body: { name: 'Contains jān', rule: { attribute: 'firstName', op: 'contains', value: 'JĀN' } } })).body;
    expect((await app.request('POST', `/v1/segments/${seg.id}/refresh`)).body.memberCount).toBe(2);
    await app.store.profiles.upsertMany([{ id: 'p01', attributes: { firstName: 'Pēteris' } }, { id: 'p09', attributes: { firstName: 'Marta Jānīte' } }]);
    expect(await app.store.segments.memberIds(seg.id)).toEqual(['p01', 'p02']);
    expect((await app.request('POST', `/v1/segments/${seg.id}/refresh`)).body.memberCount).toBe(2);
    expect(await app.store.segments.memberIds(seg.id)).toEqual(['p02', 'p09']);
    await seedProfiles(app.store, FIXTURE_PROFILES.filter((p) => p.id === 'p01'));
    await app.store.profiles.delete('p09');
  });

  it('a refresh writes only who joined and who left; members who stay keep their rows', async () => {
    const seg = (await app.request('POST', '/v1/segments', { body: { name: 'Has Country', rule: { attribute: 'Country', op: 'exists' } } })).body;
    const first = (await app.request('POST', `/v1/segments/${seg.id}/refresh`)).body.memberCount;
    // The row's identity: SQLite's rowid, or the transaction that wrote it on PostgreSQL.
    const identity = kind === 'sqlite' ? 'rowid' : 'xmin::text';
    const rows = async () =>
      new Map((await app.store.db.all<{ profile_id: string; v: unknown }>(`SELECT profile_id, ${identity} AS v FROM segment_members WHERE segment_id = ?`, [seg.id])).map((r) => [r.profile_id, String(r.v)]));
    const before = await rows();
    expect(before.size).toBe(first);
    const [leaver, ...stayers] = [...before.keys()].sort();
    await app.store.profiles.upsertMany([
      { id: leaver, attributes: { firstName: 'No country now' } },
      { id: 'joiner', attributes: { Country: 'EE' } },
    ]);

    const second = (await app.request('POST', `/v1/segments/${seg.id}/refresh`)).body.memberCount;
    const after = await rows();
    expect(second).toBe(first);
    expect([...after.keys()].sort()).toEqual([...stayers, 'joiner'].sort());
    for (const id of stayers) expect(after.get(id)).toBe(before.get(id));
    expect((await app.request('GET', `/v1/segments/${seg.id}`)).body.memberCount).toBe(second);

    await app.store.profiles.delete('joiner');
    await seedProfiles(app.store, FIXTURE_PROFILES.filter((p) => p.id === leaver));
    expect((await app.request('POST', `/v1/segments/${seg.id}/refresh`)).body.memberCount).toBe(first);
  });

  it('rejects bad rules with 400 naming the path, and changes nothing', async () => {
    const before = await tables();
    const bad = [
      [{ name: 'x', rule: { all: [LV, { attribute: 'Country', op: 'like', value: 'L%' }] } }, 'body.rule.all.1.op'],
      [{ name: 'x', rule: { any: [{ attribute: 'age', op: 'gt' }] } }, 'body.rule.any.0.value'],
      [{ name: 'x', rule: { attribute: "x'); DROP TABLE profiles; --", op: 'in', value: 'LV' } }, 'body.rule.value'],
      [{ name: 'x' }, 'body.rule'],
      [{ name: '', rule: LV }, 'body.name'],
      [{ name: 'x', rule: LV, extra: 1 }, 'body'],
      [{ name: 'x', rule: { not: { not: { not: { not: { not: { not: { not: { not: { not: { not: LV } } } } } } } } } } }, 'body.rule.not.not.not.not.not.not.not.not.not.not'],
    ] as const;
    for (const [body, path] of bad) {
      const res = await app.request('POST', '/v1/segments', { body });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details.map((d: { path: string[] }) => d.path.join('.'))).toContain(path);
    }
    const invalidJson = await app.request('POST', '/v1/segments', { raw: '{"name": "x", "rule": ', contentType: 'application/json' });
    expect(invalidJson.status).toBe(400);
    expect(await tables()).toEqual(before);
  });

  it('answers malformed text, ids and cursors with 400 or 404, never 500, on both stores', async () => {
    const before = await tables();
    const nul = await app.request('POST', '/v1/segments', { body: { name: 'x', rule: { attribute: 'a', op: 'eq', value: 'x\u0000y' } } });
    expect(nul.status).toBe(400);
    expect(nul.body.error.details.map((d: { path: string[] }) => d.path.join('.'))).toEqual(['body.rule.value']);
    expect((await app.request('POST', '/v1/segments', { body: { name: 'x', rule: { attribute: '\ud800', op: 'exists' } } })).status).toBe(400);
    expect((await app.request('POST', '/v1/segments', { body: { name: 'a\u0000', rule: LV } })).status).toBe(400);
    expect((await app.request('GET', '/v1/segments/%00')).status).toBe(400);
    expect((await app.request('POST', '/v1/segments/seg_%00/refresh')).status).toBe(400);
    const cursor = Buffer.from(JSON.stringify(['a\u0000'])).toString('base64url');
    expect((await app.request('GET', `/v1/segments?cursor=${cursor}`)).status).toBe(400);
    expect((await app.request('GET', `/v1/segments?cursor=${Buffer.from('[1]').toString('base64url')}`)).status).toBe(400);
    const odd = await app.request('GET', '/v1/segments/%FF');
    expect(odd.status).toBeGreaterThanOrEqual(400);
    expect(odd.status).toBeLessThan(500);
    expect(await tables()).toEqual(before);
  });

  it('treats injection-shaped attribute names and values as data', async () => {
    const rule = { any: [{ attribute: "Country' OR '1'='1", op: 'eq', value: 'LV' }, { attribute: 'Country', op: 'eq', value: "LV' OR '1'='1" }, { attribute: 'a"); DELETE FROM profiles; --', op: 'exists' }] };
    const seg = (await app.request('POST', '/v1/segments', { body: { name: 'tricky', rule } })).body;
    expect((await app.request('GET', `/v1/segments/${seg.id}`)).body.rule).toEqual(rule);
    const refreshed = await app.request('POST', `/v1/segments/${seg.id}/refresh`);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.memberCount).toBe(0);
    expect(await app.store.profiles.count()).toBe(FIXTURE_PROFILES.length);
  });

  it('patches the name and the rule; a new rule needs a refresh again', async () => {
    const seg = (await app.request('POST', '/v1/segments', { body: { name: 'Old', rule: LV } })).body;
    await app.request('POST', `/v1/segments/${seg.id}/refresh`);
    const renamed = await app.request('PATCH', `/v1/segments/${seg.id}`, { body: { name: 'New' } });
    expect(renamed.body).toMatchObject({ name: 'New', memberCount: 2 });
    const rerule = await app.request('PATCH', `/v1/segments/${seg.id}`, { body: { rule: { attribute: 'Country', op: 'exists' } } });
    expect(rerule.status).toBe(200);
    expect(rerule.body).toMatchObject({ name: 'New', rule: { attribute: 'Country', op: 'exists' }, memberCount: null, refreshedAt: null });
    expect(await app.store.segments.memberIds(seg.id)).toEqual([]);
    expect((await app.request('POST', `/v1/segments/${seg.id}/refresh`)).body.memberCount).toBe(5);
    expect((await app.request('PATCH', `/v1/segments/${seg.id}`, { body: {} })).status).toBe(400);
    expect((await app.request('PATCH', `/v1/segments/${seg.id}`, { body: { rule: { all: 'x' } } })).status).toBe(400);
    expect((await app.request('PATCH', '/v1/segments/seg_missing', { body: { name: 'x' } })).status).toBe(404);
  });

  it('lets contributors read and only admins write', async () => {
    const seg = (await app.request('POST', '/v1/segments', { body: { name: 'Readable', rule: LV } })).body;
    expect((await app.request('GET', '/v1/segments', { role: 'contributor' })).status).toBe(200);
    expect((await app.request('GET', `/v1/segments/${seg.id}`, { role: 'contributor' })).status).toBe(200);
    expect((await app.request('POST', '/v1/segments', { role: 'contributor', body: { name: 'x', rule: LV } })).status).toBe(403);
    expect((await app.request('PATCH', `/v1/segments/${seg.id}`, { role: 'contributor', body: { name: 'x' } })).status).toBe(403);
    expect((await app.request('POST', `/v1/segments/${seg.id}/refresh`, { role: 'contributor' })).status).toBe(403);
    expect((await app.request('DELETE', `/v1/segments/${seg.id}`, { role: 'contributor' })).status).toBe(403);
    expect((await app.request('GET', '/v1/segments', { role: 'none' })).status).toBe(401);
    expect((await app.request('GET', '/v1/segments/seg_nope')).status).toBe(404);
    expect((await app.request('POST', '/v1/segments/seg_nope/refresh')).status).toBe(404);
  });

  it('pages through segments by keyset', async () => {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { items: { id: string }[]; nextCursor: string | null } } = await app.request('GET', `/v1/segments?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      ids.push(...res.body.items.map((s) => s.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    const all = (await app.store.db.all<{ id: string }>('SELECT id FROM segments ORDER BY id')).map((r) => r.id);
    expect(ids).toEqual(all);
    expect(ids.length).toBeGreaterThan(3);
  });

  it('refuses to delete a segment an export names (409 segment_in_use), then deletes it once free', async () => {
    const seg = (await app.request('POST', '/v1/segments', { body: { name: 'In use', rule: LV } })).body;
    await app.request('POST', `/v1/segments/${seg.id}/refresh`);
    const now = new Date().toISOString();
    await app.store.db.run(
      `INSERT INTO exports (id, name, connection_id, list_id, mapping, sync_mode, max_removal_percent, schedule, created_by_role, created_at, updated_at)
       VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ['exp_test0000001', 'Newsletter', '00000000-0000-4000-8000-000000000001', JSON.stringify({ email: 'email' }), 'upsert', 20, JSON.stringify({ mode: 'off' }), 'admin', now, now],
    );
    await app.store.db.run('INSERT INTO export_segments (export_id, segment_id, position) VALUES (?, ?, ?)', ['exp_test0000001', seg.id, 0]);
    const refused = await app.request('DELETE', `/v1/segments/${seg.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('segment_in_use');
    expect(refused.body.error.message).toContain('exp_test0000001');
    expect(await app.store.segments.memberIds(seg.id)).toHaveLength(2);

    // A deleted export no longer holds it.
    await app.store.db.run('UPDATE exports SET deleted_at = ? WHERE id = ?', [now, 'exp_test0000001']);
    expect((await app.request('DELETE', `/v1/segments/${seg.id}`)).status).toBe(204);
    expect((await app.request('GET', `/v1/segments/${seg.id}`)).status).toBe(404);
    expect(await app.store.segments.memberIds(seg.id)).toEqual([]);
    expect((await app.request('DELETE', `/v1/segments/${seg.id}`)).status).toBe(404);
  });

  it('refreshAll refreshes every segment', async () => {
    const results = await app.store.segments.refreshAll();
    const count = (await app.store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM segments'))!.n;
    expect(results).toHaveLength(Number(count));
    for (const r of results) expect((await app.store.segments.get(r.id))!.memberCount).toBe(r.memberCount);
  });

  it('documents the rule grammar in the OpenAPI document', async () => {
    const doc = await app.request('GET', '/v1/openapi.json', { role: 'none' });
    const schema = doc.body.paths['/v1/segments'].post.requestBody.content['application/json'].schema;
    expect(schema.properties.rule.description).toMatch(/neq, nin and notExists/);
    expect(doc.body.paths['/v1/segments/{id}'].delete.responses['409']).toBeDefined();
  });
});
