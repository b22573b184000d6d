import Database from 'better-sqlite3';
import pg from 'pg';
import { CsvHeaderError, importProfiles } from '../../store/profile-import';
import { createTestStore, storeKinds, type TestStore } from '../helpers/stores';

/**
 * The import is parsed and written in a thread of the store: what the caller sees must stay as it
 * was in its own thread (results, errors, the lease, backpressure).
 */

/** Another connection that keeps every write of profiles waiting until `release`. */
async function holdProfileWrites(ts: TestStore): Promise<{ release(): Promise<void> }> {
  if (ts.kind === 'sqlite') {
    const holder = new Database(ts.location);
    holder.exec('BEGIN IMMEDIATE');
    return {
      release: async () => {
        holder.exec('COMMIT');
        holder.close();
      },
    };
  }
  const holder = new pg.Client({ connectionString: ts.env.DATABASE_URL });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE profiles IN EXCLUSIVE MODE');
  return {
    release: async () => {
      await holder.query('COMMIT');
      await holder.end();
    },
  };
}

describe.each(storeKinds)('a profile import in the store thread (%s)', (kind) => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await createTestStore(kind);
  });
  afterAll(() => ts?.destroy());

  const line = (prefix: string, i: number) => `${JSON.stringify({ id: `${prefix}-${i}`, email: `${prefix}-${i}@example.com` })}\n`;

  it('reads the body no faster than the thread writes: while the store is locked, only a few chunks are taken', async () => {
    const held = await holdProfileWrites(ts); // the import thread's first write now waits
    let pulled = 0;
    async function* body() {
      for (let i = 0; i < 200; i++) {
        pulled++;
        yield Array.from({ length: 10 }, (_, k) => line('locked', i * 10 + k)).join('');
      }
    }
    const importing = importProfiles(body(), 'ndjson', ts.store, { batchRecords: 10 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const whileLocked = pulled;
    await held.release();
    const result = await importing;

    expect(whileLocked).toBeLessThanOrEqual(10);
    expect(result).toMatchObject({ received: 2_000, upserted: 2_000, rejected: 0 });
    expect(await ts.store.profiles.get('locked-1999')).toMatchObject({ attributes: { email: 'locked-1999@example.com' } });
  });

  it('stops when the body fails, answers with its error, keeps what was written and lets the next import run', async () => {
    async function* broken() {
      for (let i = 0; i < 5; i++) yield Array.from({ length: 100 }, (_, k) => line('broken', i * 100 + k)).join('');
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    }
    await expect(importProfiles(broken(), 'ndjson', ts.store, { batchRecords: 100 })).rejects.toMatchObject({ message: 'socket hang up', code: 'ECONNRESET' });
    expect(await ts.store.profiles.get('broken-0')).toBeDefined();

    async function* next() {
      yield line('after', 1);
    }
    await expect(importProfiles(next(), 'ndjson', ts.store)).resolves.toMatchObject({ received: 1, upserted: 1 });
  });

  it('gives a bad CSV header back as a CsvHeaderError and writes nothing', async () => {
    async function* csv() {
      yield 'email,name\nnobody@example.com,Nobody\n';
    }
    const before = await ts.store.profiles.count();
    const failed = importProfiles(csv(), 'csv', ts.store);
    await expect(failed).rejects.toBeInstanceOf(CsvHeaderError);
    await expect(failed).rejects.toThrow('the CSV header row must name an id column');
    expect(await ts.store.profiles.count()).toBe(before);
  });

  it('decodes UTF-8 split between chunks: a character cut in two arrives whole, a BOM is dropped, a cut last character is U+FFFD', async () => {
    const bytes = Buffer.from(`\uFEFF${line('utf8', 1).replace('utf8-1@', 'zoë-€-😀@')}{"id":"utf8-2","city":"Zürich"}\n{"id":"utf8-3","x":"a`, 'utf8');
    const cuts = [1, 2, bytes.indexOf('€') + 1, bytes.indexOf('😀') + 2, bytes.indexOf('ü') + 1, bytes.length];
    const ending = Buffer.concat([Buffer.from('"}\n'), Buffer.from('€').subarray(0, 2)]);
    async function* body() {
      let from = 0;
      for (const to of cuts) {
        yield bytes.subarray(from, to);
        from = to;
      }
      yield ending;
    }
    const result = await importProfiles(body(), 'ndjson', ts.store);
    expect(result).toMatchObject({ received: 4, upserted: 3, rejected: 1 });
    expect(result.errors[0]).toMatchObject({ line: 4 });
    expect(await ts.store.profiles.get('utf8-1')).toMatchObject({ attributes: { email: 'zoë-€-😀@example.com' } });
    expect(await ts.store.profiles.get('utf8-2')).toMatchObject({ attributes: { city: 'Zürich' } });
    expect(await ts.store.profiles.get('utf8-3')).toMatchObject({ attributes: { x: 'a' } });
  });

  it('stamps the rows with the caller\'s clock', async () => {
    async function* body() {
      yield line('clocked', 1);
    }
    await importProfiles(body(), 'ndjson', ts.store, { clock: () => new Date('2030-01-02T03:04:05.000Z') });
    expect(await ts.store.profiles.get('clocked-1')).toMatchObject({ updatedAt: '2030-01-02T03:04:05.000Z' });
  });
});
