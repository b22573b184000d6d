import net from 'node:net';
import { SecretBox } from '../../common/secrets';
import { Store } from '../../store';
import { openPostgres } from '../../store/db';
import { TEST_SECRETS_KEY, testDatabaseUrl } from '../helpers/stores';

/**
 * PostgreSQL cannot hang the service: connecting, statements and sessions idle inside a
 * transaction have deadlines, pooled connections keep TCP alive, a failing idle connection is
 * reported (without credentials) instead of crashing, and the readiness ping gives up after 2 s.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP server that accepts connections and never says a word: a database that hangs. */
async function blackHole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('PostgreSQL deadlines', () => {
  it('cancels a statement that runs past its timeout', async () => {
    const db = openPostgres(testDatabaseUrl(), { timeouts: { statementTimeoutMs: 300 } });
    try {
      const started = Date.now();
      await expect(db.get('SELECT pg_sleep(5)')).rejects.toMatchObject({ code: '57014' });
      expect(Date.now() - started).toBeLessThan(3000);
      expect(await db.get('SELECT 1 AS ok')).toEqual({ ok: 1 });
    } finally {
      await db.close();
    }
  });

  it('ends a session left idle inside a transaction', async () => {
    const db = openPostgres(testDatabaseUrl(), { timeouts: { idleInTransactionTimeoutMs: 300 } });
    try {
      await expect(
        db.tx(async (tx) => {
          await tx.get('SELECT 1 AS ok');
          await sleep(1500);
          return tx.get('SELECT 1 AS ok');
        }),
      ).rejects.toBeDefined();
      expect(await db.get('SELECT 1 AS ok')).toEqual({ ok: 1 });
    } finally {
      await db.close();
    }
  });

  it('gives up connecting to a server that does not answer, and the readiness ping answers false within 2 s', async () => {
    const hole = await blackHole();
    try {
      const quick = openPostgres(`postgres://someone:not-a-real-password@127.0.0.1:${hole.port}/nowhere`, { timeouts: { connectTimeoutMs: 300 } });
      const started = Date.now();
      await expect(quick.get('SELECT 1')).rejects.toBeDefined();
      expect(Date.now() - started).toBeLessThan(2000);
      await quick.close();

      const slow = openPostgres(`postgres://someone@127.0.0.1:${hole.port}/nowhere`, { timeouts: { connectTimeoutMs: 30_000 } });
      const store = new Store(slow, new SecretBox(TEST_SECRETS_KEY));
      const pinged = Date.now();
      expect(await store.ping()).toBe(false);
      expect(Date.now() - pinged).toBeGreaterThanOrEqual(1900);
      expect(Date.now() - pinged).toBeLessThan(3000);
    } finally {
      await hole.close();
    }
  });

  it('reports a pooled connection that fails while idle with its code and no credentials, and goes on', async () => {
    const url = new URL(testDatabaseUrl());
    url.password = 'not-a-real-password';
    const errors: { code?: string; message: string }[] = [];
    const db = openPostgres(url.toString(), { onPoolError: (e) => errors.push(e) });
    const admin = openPostgres(testDatabaseUrl());
    try {
      const { pid } = (await db.get<{ pid: number }>('SELECT pg_backend_pid() AS pid'))!;
      await admin.get('SELECT pg_terminate_backend(?)', [pid]);
      for (let i = 0; i < 50 && errors.length === 0; i++) await sleep(50);
      expect(errors[0]?.code).toBe('57P01');
      expect(JSON.stringify(errors)).not.toContain('not-a-real-password');
      expect(await db.get('SELECT 1 AS ok')).toEqual({ ok: 1 });
      expect((db as unknown as { pool: { options: { keepAlive?: boolean } } }).pool.options.keepAlive).toBe(true);
    } finally {
      await db.close();
      await admin.close();
    }
  });
});
