import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqlite, type Db } from '../../store/db';

/**
 * One SQLite connection serves every request of a process. A transaction on it is its caller's
 * alone: a statement from another request waits for it to end instead of joining it, so a
 * transaction that fails rolls back only its own writes, and no one reads what it had not committed.
 */
describe('a SQLite transaction and the other callers of its connection', () => {
  let dir: string;
  let db: Db;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-tx-'));
    db = openSqlite(path.join(dir, 'store.db'));
    await db.run('CREATE TABLE t (v TEXT)');
  });
  afterEach(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const values = async () => (await db.all<{ v: string }>('SELECT v FROM t ORDER BY v')).map((r) => r.v);
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  /** A transaction that writes `a`, lets other work run (statements, then a turn of the event loop), and fails. */
  function failingTransaction(): { done: Promise<string>; wrote: Promise<void> } {
    let wrote!: () => void;
    const written = new Promise<void>((resolve) => (wrote = resolve));
    const done = db
      .tx(async (tx) => {
        await tx.run("INSERT INTO t VALUES ('a')");
        wrote();
        await tx.get('SELECT 1');
        await turn();
        throw new Error('the transaction fails');
      })
      .catch((err: Error) => err.message);
    return { done, wrote: written };
  }

  it('a write from elsewhere waits for the transaction and stays when the transaction is rolled back', async () => {
    const a = failingTransaction();
    await a.wrote;
    const b = db.run("INSERT INTO t VALUES ('b')");
    expect(await a.done).toBe('the transaction fails');
    await b;
    expect(await values()).toEqual(['b']);
  });

  it('a read from elsewhere does not see what the transaction has not committed', async () => {
    const a = failingTransaction();
    await a.wrote;
    expect(await values()).toEqual([]);
    await a.done;
  });

  it('another transaction begun meanwhile runs after it, not inside it', async () => {
    const a = failingTransaction();
    await a.wrote;
    const b = db.tx(async (tx) => {
      await tx.run("INSERT INTO t VALUES ('b')");
      return tx.all<{ v: string }>('SELECT v FROM t');
    });
    await a.done;
    expect(await b).toEqual([{ v: 'b' }]);
    expect(await values()).toEqual(['b']);
  });

  it('the transaction’s own calls join it, through the connection too and side by side', async () => {
    await db.tx(async (tx) => {
      await Promise.all([tx.run("INSERT INTO t VALUES ('a')"), db.run("INSERT INTO t VALUES ('b')")]);
      await turn();
      await db.tx(async (nested) => nested.run("INSERT INTO t VALUES ('c')"));
      expect((await db.all('SELECT v FROM t')).length).toBe(3);
    });
    expect(await values()).toEqual(['a', 'b', 'c']);
    await expect(
      db.tx(async (tx) => {
        await db.run("INSERT INTO t VALUES ('d')");
        await tx.run("INSERT INTO t VALUES ('e')");
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(await values()).toEqual(['a', 'b', 'c']);
  });
});
