import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteDb } from '../../store/db';
import { openStore, type Store } from '../../store';

/**
 * A process's own SQLite connection never copies the write-ahead log into the database file in a
 * commit (that copy can take hundreds of milliseconds after another connection's long write, on
 * the API's event loop); the store's worker thread does it shortly after.
 */
describe('WAL checkpoints of a SQLite file store opened for the API (walCheckpoints: worker-thread)', () => {
  let dir: string;
  let file: string;
  let store: Store;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-wal-'));
    file = path.join(dir, 'store.db');
    store = await openStore({ sqliteFile: file, secretsKey: randomBytes(32).toString('hex'), walCheckpoints: 'worker-thread' });
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);

  it('leaves a big commit in the log on the calling connection and checkpoints it from the worker thread', async () => {
    const db = store.db as SqliteDb;
    expect(db.raw.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    await db.run('CREATE TABLE wal_probe (v BLOB)');
    await new Promise((resolve) => setTimeout(resolve, 1000)); // the table's own checkpoint is done
    const before = size(file);
    const blob = randomBytes(4000);
    // About 8 MB: twice the log size (1,000 pages) at which a commit would checkpoint by itself.
    await db.tx(async (tx) => {
      for (let i = 0; i < 2000; i++) await tx.run('INSERT INTO wal_probe (v) VALUES (?)', [blob]);
    });
    expect(size(`${file}-wal`)).toBeGreaterThan(8_000_000);
    expect(size(file)).toBe(before);

    const deadline = Date.now() + 10_000;
    while (size(file) < before + 8_000_000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(size(file)).toBeGreaterThanOrEqual(before + 8_000_000);
  });
});
