import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApiProcess, type ApiProcess } from '../../bench/harness';
import { MAX_ATTRIBUTES } from '../../store/profile-import';
import { createProfilesApp, type ProfilesApp } from '../helpers/profiles';
import { storeKinds } from '../helpers/stores';
import { ROOT } from '../helpers/worker';

/**
 * What bounds an import: one at a time per store (across API processes), at most MAX_ATTRIBUTES
 * attributes per record and MAX_ATTRIBUTES + 1 CSV columns, and memory that does not follow a
 * hostile header.
 */

const NDJSON = 'application/x-ndjson';

/** A streamed body that sends `first` and then waits until `finish()` is called to send `rest`. */
function heldBody(first: string, rest: string) {
  let finish!: () => void;
  const released = new Promise<void>((resolve) => (finish = resolve));
  async function* body() {
    yield first;
    await released;
    yield rest;
  }
  return { body: body(), finish };
}

describe.each(storeKinds)('import limits on %s', (kind) => {
  let app: ProfilesApp;
  let second: ProfilesApp;
  beforeAll(async () => {
    app = await createProfilesApp(kind);
    second = await createProfilesApp(kind, { sameStoreAs: app });
  });
  afterAll(async () => {
    await second.close();
    await app.close();
  });

  it('runs one import at a time per store: another, from any API process, answers 409 import_in_progress', async () => {
    const held = heldBody(`${JSON.stringify({ id: 'held-1', a: 1 })}\n`, `${JSON.stringify({ id: 'held-2', a: 2 })}\n`);
    const first = app.request('POST', '/v1/profiles/import', { raw: held.body, contentType: NDJSON });
    // The held import has its lease once its first record is in.
    await waitFor(async () => (await app.store.db.get('SELECT owner FROM store_leases WHERE name = ?', ['profile-import'])) !== undefined);
    for (const other of [second, app]) {
      const res = await other.request('POST', '/v1/profiles/import', { raw: JSON.stringify({ id: 'other', a: 3 }), contentType: NDJSON });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('import_in_progress');
    }
    held.finish();
    expect((await first).body).toMatchObject({ received: 2, upserted: 2 });
    expect((await app.request('GET', '/v1/profiles/other')).status).toBe(404);
    const after = await second.request('POST', '/v1/profiles/import', { raw: JSON.stringify({ id: 'other', a: 3 }), contentType: NDJSON });
    expect(after.body).toMatchObject({ received: 1, upserted: 1 });
  });

  it(`rejects a record with more than ${MAX_ATTRIBUTES} attributes as a bad line and keeps the others`, async () => {
    const wide = Object.fromEntries(Array.from({ length: MAX_ATTRIBUTES + 1 }, (_, i) => [`a${i}`, i]));
    const full = Object.fromEntries(Array.from({ length: MAX_ATTRIBUTES }, (_, i) => [`a${i}`, i]));
    const res = await app.request('POST', '/v1/profiles/import', {
      raw: [JSON.stringify({ id: 'wide', ...wide }), JSON.stringify({ id: 'full', ...full })].join('\n'),
      contentType: NDJSON,
    });
    expect(res.body).toEqual({ received: 2, upserted: 1, rejected: 1, errors: [{ line: 1, message: `a record has at most ${MAX_ATTRIBUTES} attributes` }] });
    expect(Object.keys((await app.request('GET', '/v1/profiles/full')).body.attributes)).toHaveLength(MAX_ATTRIBUTES);
  });

  it(`refuses a CSV header of more than ${MAX_ATTRIBUTES + 1} columns and takes one of exactly that many`, async () => {
    const header = (n: number) => ['id', ...Array.from({ length: n - 1 }, (_, i) => `c${i}`)].join(',');
    const row = (n: number) => ['csv-wide', ...Array.from({ length: n - 1 }, (_, i) => (i % 2 ? '' : `v${i}`))].join(',');
    const refused = await app.request('POST', '/v1/profiles/import', { raw: `${header(MAX_ATTRIBUTES + 2)}\n${row(MAX_ATTRIBUTES + 2)}\n`, contentType: 'text/csv' });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(new RegExp(`more than ${MAX_ATTRIBUTES + 1} fields`));
    const taken = await app.request('POST', '/v1/profiles/import', { raw: `${header(MAX_ATTRIBUTES + 1)}\n${row(MAX_ATTRIBUTES + 1)}\n`, contentType: 'text/csv' });
    expect(taken.body).toMatchObject({ received: 1, upserted: 1, rejected: 0 });
    // Empty cells are not stored: every other column of the row.
    expect(Object.keys((await app.request('GET', '/v1/profiles/csv-wide')).body.attributes)).toHaveLength(MAX_ATTRIBUTES / 2);
  });
});

describe('an API process given a CSV header of a million columns', () => {
  let api: ApiProcess;
  let dataDir: string;
  beforeAll(async () => {
    // SQLite in a data directory of its own; the import needs no Temporal (nothing listens at port 9).
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-wide-'));
    api = await startApiProcess(path.join(ROOT, 'dist/api/main.js'), { NODE_ENV: 'test', LOG_LEVEL: 'warn', DATA_DIR: dataDir, TEMPORAL_ADDRESS: '127.0.0.1:9' });
  });
  afterAll(async () => {
    await api?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  // fetch streams an async iterable body (undici), which its types do not list.
  const post = (body: AsyncIterable<string> | string) =>
    fetch(`${api.baseUrl}/v1/profiles/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.adminKey}`, 'content-type': 'text/csv' },
      body,
      duplex: 'half',
    } as unknown as Parameters<typeof fetch>[1]);

  it('refuses it with 400 without its memory passing 300 MB, and imports a normal CSV afterwards', async () => {
    async function* millionColumns() {
      yield 'id';
      for (let i = 0; i < 1_000_000; i += 10_000) yield Array.from({ length: 10_000 }, (_, k) => `,column_${i + k}`).join('');
      yield '\nrow-1,1\n';
    }
    const refused = await post(millionColumns());
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('validation_failed');
    expect(api.peakRssMb()).toBeLessThan(300);

    const ok = await post('id,Country,age\nlv-1,LV,30\nlv-2,,41\n');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ received: 2, upserted: 2, rejected: 0, errors: [] });
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
