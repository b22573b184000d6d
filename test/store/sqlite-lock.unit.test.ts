import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DomainError } from '../../common/errors';
import { openSqlite, type Db } from '../../store/db';

/**
 * A SQLite connection on an event loop never sleeps inside SQLite for the write lock: while another
 * connection writes, its writes wait on a timer (the event loop keeps turning), go through once the
 * lock is free, and fail with a 503-kind `store_busy` only after the wait.
 */
describe('a SQLite write while another connection holds the write lock', () => {
  let dir: string;
  let other: Database.Database;
  let db: Db;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-lock-'));
    const file = path.join(dir, 'store.db');
    db = openSqlite(file, { lockWaitMs: 300 });
    other = new Database(file);
    other.exec('CREATE TABLE t (v INTEGER)');
  });
  afterEach(async () => {
    other.close();
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Counts timer turns while `p` is pending: a blocked event loop counts none. */
  async function turnsWhile<T>(p: Promise<T>): Promise<{ turns: number; result: PromiseSettledResult<T> }> {
    let turns = 0;
    const timer = setInterval(() => turns++, 10);
    const [result] = await Promise.allSettled([p]);
    clearInterval(timer);
    return { turns, result };
  }

  it('waits without blocking the event loop and goes through when the lock is released', async () => {
    other.exec('BEGIN IMMEDIATE');
    setTimeout(() => other.exec('COMMIT'), 150);
    const { turns, result } = await turnsWhile(db.tx((tx) => tx.run('INSERT INTO t (v) VALUES (1)')));
    expect(result.status).toBe('fulfilled');
    expect(turns).toBeGreaterThanOrEqual(5);
    expect(other.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 1 });
  });

  it('fails with store_busy (kind unavailable) after the wait, without blocking meanwhile', async () => {
    other.exec('BEGIN IMMEDIATE');
    const { turns, result } = await turnsWhile(db.run('INSERT INTO t (v) VALUES (2)'));
    other.exec('ROLLBACK');
    expect(turns).toBeGreaterThanOrEqual(10);
    expect(result.status).toBe('rejected');
    const err = (result as PromiseRejectedResult).reason as DomainError;
    expect(err).toBeInstanceOf(DomainError);
    expect([err.kind, err.code]).toEqual(['unavailable', 'store_busy']);
    expect(await db.all('SELECT v FROM t')).toEqual([]);
  });
});

describe('a SQLite connection page cache', () => {
  it('is better-sqlite3 default unless a size is asked for, in KiB', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-cache-'));
    const file = path.join(dir, 'store.db');
    const plain = openSqlite(file);
    const small = openSqlite(file, { cacheKib: 2000 });
    try {
      expect(await plain.get('PRAGMA cache_size')).toEqual({ cache_size: -16000 });
      expect(await small.get('PRAGMA cache_size')).toEqual({ cache_size: -2000 });
    } finally {
      await plain.close();
      await small.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
