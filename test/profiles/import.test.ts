import { decodeCursor } from '../../common/paging';
import { storeKinds } from '../helpers/stores';
import { createProfilesApp, ndjsonLines, type ProfilesApp } from '../helpers/profiles';

const NDJSON = 'application/x-ndjson';

describe.each(storeKinds)('profile import and routes on %s', (kind) => {
  let app: ProfilesApp;
  beforeAll(async () => {
    app = await createProfilesApp(kind);
  });
  afterAll(() => app.close());
  beforeEach(async () => {
    await app.store.db.run('DELETE FROM segment_members');
    await app.store.db.run('DELETE FROM segments');
    await app.store.db.run('DELETE FROM profiles');
    await app.store.db.run('DELETE FROM profile_attributes');
  });

  const importNdjson = (body: string) => app.request('POST', '/v1/profiles/import', { raw: body, contentType: NDJSON });
  const importCsv = (body: string) => app.request('POST', '/v1/profiles/import', { raw: body, contentType: 'text/csv; charset=utf-8' });

  it('imports NDJSON, skips bad lines with their line numbers and reports them', async () => {
    const body = [
      JSON.stringify({ id: 'lv-1', firstName: 'Jānis', lastName: 'Bērziņš', age: 34, vip: true, note: null }),
      '',
      '{"id": "lv-2", "firstName": "Līga"',
      JSON.stringify({ id: 'lv-3', address: { city: 'Rīga' } }),
      JSON.stringify({ id: 'lv-4', tags: ['a'] }),
      JSON.stringify({ firstName: 'no id' }),
      JSON.stringify({ id: 42 }),
      JSON.stringify({ id: '' }),
      JSON.stringify({ id: 'x'.repeat(129) }),
      '["id", "lv-5"]',
      JSON.stringify({ id: 'lv-6', firstName: 'Pēteris', __proto__x: 1 }),
      JSON.stringify({ id: 'lv-7', '': 'empty name' }),
      '   ',
      JSON.stringify({ id: 'lv-8', email: 'anna@example.test' }),
    ].join('\n');
    const res = await importNdjson(body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      received: 12,
      upserted: 3,
      rejected: 9,
      errors: [
        { line: 3, message: expect.stringMatching(/not valid JSON/) },
        { line: 4, message: expect.stringMatching(/"address".*nested/) },
        { line: 5, message: expect.stringMatching(/"tags".*nested/) },
        { line: 6, message: 'id is required' },
        { line: 7, message: 'id must be a string' },
        { line: 8, message: expect.stringMatching(/1 to 128/) },
        { line: 9, message: expect.stringMatching(/1 to 128/) },
        { line: 10, message: expect.stringMatching(/JSON object/) },
        { line: 12, message: expect.stringMatching(/attribute names/) },
      ],
    });
    const one = await app.request('GET', '/v1/profiles/lv-1');
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ id: 'lv-1', attributes: { firstName: 'Jānis', lastName: 'Bērziņš', age: 34, vip: true, note: null }, updatedAt: expect.any(String) });
    expect(new Date(one.body.updatedAt).toISOString()).toBe(one.body.updatedAt);
    expect((await app.request('GET', '/v1/profiles/lv-2')).status).toBe(404);
    expect(await app.store.profiles.count()).toBe(3);
  });

  it('rejects text neither store can keep as is (NUL, lone surrogates) as bad lines', async () => {
    const body = [
      JSON.stringify({ id: 'ok', note: 'fine' }),
      '{"id": "nul", "note": "a\\u0000b"}',
      '{"id": "sur", "note": "\\ud800"}',
      '{"id": "key", "a\\u0000": 1}',
    ].join('\n');
    const res = await importNdjson(body);
    expect(res.body).toMatchObject({ received: 4, upserted: 1, rejected: 3 });
    expect(res.body.errors.map((e: { line: number }) => e.line)).toEqual([2, 3, 4]);
    expect(res.body.errors[0].message).toMatch(/NUL/);
  });

  it('answers malformed ids and cursors with 400, never 500', async () => {
    expect((await app.request('GET', '/v1/profiles/a%00b')).status).toBe(400);
    expect((await app.request('DELETE', '/v1/profiles/a%00b')).status).toBe(400);
    expect((await app.request('GET', `/v1/profiles/${'x'.repeat(129)}`)).status).toBe(400);
    expect((await app.request('GET', `/v1/profiles?cursor=${Buffer.from(JSON.stringify(['\u0000'])).toString('base64url')}`)).status).toBe(400);
    const odd = await app.request('GET', '/v1/profiles/%E0%A4%A');
    expect(odd.status).toBeGreaterThanOrEqual(400);
    expect(odd.status).toBeLessThan(500);
    const header = await importCsv('id,a\u0000\nx,1\n');
    expect(header.status).toBe(400);
  });

  it('lists only the first 100 errors but counts them all', async () => {
    const body = Array.from({ length: 150 }, (_, i) => (i % 2 ? '{bad' : JSON.stringify({ id: `p${i}` }))).join('\n');
    const res = await importNdjson(body);
    expect(res.body).toMatchObject({ received: 150, upserted: 75, rejected: 75 });
    const many = await importNdjson(Array.from({ length: 130 }, () => 'nope').join('\n'));
    expect(many.body.rejected).toBe(130);
    expect(many.body.errors).toHaveLength(100);
    expect(many.body.errors[99].line).toBe(100);
  });

  it('upserts by id: the attributes of the last record replace the stored ones', async () => {
    await importNdjson(`${JSON.stringify({ id: 'u1', a: 1, b: 'keep?' })}\n${JSON.stringify({ id: 'u2', a: 2 })}`);
    const before = (await app.request('GET', '/v1/profiles/u1')).body;
    await new Promise((r) => setTimeout(r, 5));
    const res = await importNdjson(`${JSON.stringify({ id: 'u1', c: 'new' })}\n${JSON.stringify({ id: 'u1', c: 'newer', d: false })}`);
    expect(res.body).toMatchObject({ received: 2, upserted: 2, rejected: 0 });
    const after = (await app.request('GET', '/v1/profiles/u1')).body;
    expect(after.attributes).toEqual({ c: 'newer', d: false });
    expect(after.updatedAt > before.updatedAt).toBe(true);
    expect((await app.request('GET', '/v1/profiles/u2')).body.attributes).toEqual({ a: 2 });
  });

  it('imports CSV: values are strings, an empty cell is not stored, bad rows are reported by line', async () => {
    const csv = [
      'id,firstName,lastName,age,Country',
      'c1,Jānis,"Bērziņš, jr.",34,LV',
      'c2,Līga,,00123,""',
      'c3,too,few',
      '"c4,broken',
    ].join('\r\n');
    const res = await importCsv(csv);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      received: 4,
      upserted: 2,
      rejected: 2,
      errors: [
        { line: 4, message: 'expected 5 fields as in the header row, found 3' },
        { line: 5, message: expect.stringMatching(/not closed/) },
      ],
    });
    expect((await app.request('GET', '/v1/profiles/c1')).body.attributes).toEqual({ firstName: 'Jānis', lastName: 'Bērziņš, jr.', age: '34', Country: 'LV' });
    expect((await app.request('GET', '/v1/profiles/c2')).body.attributes).toEqual({ firstName: 'Līga', age: '00123' });
  });

  it('refuses a CSV header without id, with a duplicate or an empty name: 400, nothing imported', async () => {
    for (const header of ['name,email', 'id,a,a', 'id,,b', '']) {
      const res = await importCsv(`${header}\nx1,1,2\n`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details[0].path).toEqual(['body', 'header']);
    }
    expect(await app.store.profiles.count()).toBe(0);
  });

  it('answers 415 for other content types and encodings', async () => {
    const json = await app.request('POST', '/v1/profiles/import', { body: { id: 'j1' } });
    expect(json.status).toBe(415);
    expect(json.body.error.code).toBe('unsupported_media_type');
    expect((await app.request('POST', '/v1/profiles/import', { raw: 'id\nx', contentType: 'text/plain' })).status).toBe(415);
    expect((await app.request('POST', '/v1/profiles/import', { raw: '{"id":"x"}', contentType: 'application/x-ndjson; charset=latin1' })).status).toBe(415);
    expect((await app.request('POST', '/v1/profiles/import', { raw: '{"id":"x"}', contentType: NDJSON, headers: { 'content-encoding': 'gzip' } })).status).toBe(415);
    expect((await app.request('POST', '/v1/profiles/import')).status).toBe(415);
    expect(await app.store.profiles.count()).toBe(0);
  });

  it('is for admins only', async () => {
    expect((await app.request('POST', '/v1/profiles/import', { raw: '{"id":"x"}', contentType: NDJSON, role: 'none' })).status).toBe(401);
    expect((await app.request('POST', '/v1/profiles/import', { raw: '{"id":"x"}', contentType: NDJSON, role: 'contributor' })).status).toBe(403);
    expect((await app.request('GET', '/v1/profiles', { role: 'contributor' })).status).toBe(403);
    expect((await app.request('GET', '/v1/profiles/x', { role: 'contributor' })).status).toBe(403);
    expect((await app.request('DELETE', '/v1/profiles/x', { role: 'contributor' })).status).toBe(403);
    expect((await app.request('GET', '/v1/profile-attributes', { role: 'contributor' })).status).toBe(200);
    expect(await app.store.profiles.count()).toBe(0);
  });

  it('streams a large body in batches (a chunked request of 25,000 lines)', async () => {
    const res = await app.request('POST', '/v1/profiles/import', {
      raw: ndjsonLines(25_000, (i) => ({ id: `s${String(i).padStart(6, '0')}`, email: `user${i}@example.test`, n: i, even: i % 2 === 0 })),
      contentType: NDJSON,
    });
    expect(res.body).toEqual({ received: 25_000, upserted: 25_000, rejected: 0, errors: [] });
    expect(await app.store.profiles.count()).toBe(25_000);
    expect((await app.store.profiles.get('s024999'))?.attributes).toEqual({ email: 'user24999@example.test', n: 24999, even: false });
  });

  it('lists profiles by keyset in id order', async () => {
    await importNdjson(['b', 'a', 'd', 'c', 'e'].map((id) => JSON.stringify({ id, v: id })).join('\n'));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await app.request('GET', `/v1/profiles?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((p) => p.id));
      cursor = res.body.nextCursor;
      if (cursor) expect(decodeCursor(cursor)).toHaveLength(1);
    } while (cursor);
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect((await app.request('GET', '/v1/profiles?limit=0')).status).toBe(400);
    expect((await app.request('GET', '/v1/profiles?limit=501')).status).toBe(400);
    expect((await app.request('GET', '/v1/profiles?cursor=%%%')).status).toBe(400);
  });

  it('deletes a profile with its segment memberships', async () => {
    await importNdjson(['d1', 'd2', 'd3'].map((id) => JSON.stringify({ id, Country: 'LV' })).join('\n'));
    const seg = await app.request('POST', '/v1/segments', { body: { name: 'Latvia', rule: { attribute: 'Country', op: 'eq', value: 'LV' } } });
    expect((await app.request('POST', `/v1/segments/${seg.body.id}/refresh`)).body.memberCount).toBe(3);
    const del = await app.request('DELETE', '/v1/profiles/d2');
    expect(del.status).toBe(204);
    expect((await app.request('GET', '/v1/profiles/d2')).status).toBe(404);
    expect((await app.request('DELETE', '/v1/profiles/d2')).status).toBe(404);
    expect(await app.store.segments.memberIds(seg.body.id)).toEqual(['d1', 'd3']);
    expect((await app.request('GET', `/v1/segments/${seg.body.id}`)).body.memberCount).toBe(2);
  });

  it('summarizes the attributes in use with profile counts and value types', async () => {
    await importNdjson(
      [
        { id: 'a1', Country: 'LV', age: 30, vip: true },
        { id: 'a2', Country: 'EE', age: '41', vip: null },
        { id: 'a3', Country: null, score: 1.5 },
      ]
        .map((p) => JSON.stringify(p))
        .join('\n'),
    );
    const res = await app.request('GET', '/v1/profile-attributes');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      items: [
        { name: 'Country', profiles: 3, types: ['string', 'null'] },
        { name: 'age', profiles: 2, types: ['string', 'number'] },
        { name: 'score', profiles: 1, types: ['number'] },
        { name: 'vip', profiles: 2, types: ['boolean', 'null'] },
      ],
    });
  });

  it('documents the import semantics in the OpenAPI document', async () => {
    const doc = await app.request('GET', '/v1/openapi.json', { role: 'none' });
    const op = doc.body.paths['/v1/profiles/import'].post;
    expect(Object.keys(op.requestBody.content)).toEqual(['application/x-ndjson', 'text/csv']);
    expect(op.description).toMatch(/CSV values are kept as strings/);
    expect(op.description).toMatch(/empty cell/);
    expect(op.responses['415']).toBeDefined();
  });
});
