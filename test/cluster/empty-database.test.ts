import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrations } from '../../store/migrations';
import { openSqlite } from '../../store/db';
import { TEST_SECRETS_KEY } from '../helpers/stores';
import { testTemporal } from '../helpers/temporal';
import { uniqueTaskQueue } from '../helpers/worker';
import { apiReady, createDatabase, spawnApp, workerReady, type AppProcess } from './processes';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { freePort } = require('../../scripts/temporal.js') as { freePort(): Promise<number> };

/**
 * A new installation: several workers and API processes started at the same moment on an empty
 * database (a new PostgreSQL database, or a new SQLite data directory). Each must come up; the
 * schema is created once. Several rounds, each on a fresh database, because a race shows only in
 * some of them.
 */

const ROUNDS = 3;
const WORKERS = 2;
const APIS = 2;

async function startTopology(store: Record<string, string>): Promise<AppProcess[]> {
  const t = testTemporal();
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    SECRETS_KEY: TEST_SECRETS_KEY,
    API_KEYS: `admin:${randomBytes(16).toString('hex')}`,
    TEMPORAL_ADDRESS: t.address,
    TEMPORAL_NAMESPACE: t.namespace,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('empty-db'),
    CC_SANDBOX: 'true',
    ...store,
  };
  const ports = await Promise.all(Array.from({ length: APIS }, () => freePort()));
  // All spawned in one go: the processes open the store at the same moment.
  return [
    ...Array.from({ length: WORKERS }, (_, i) => spawnApp(`worker ${i + 1}`, 'dist/worker/main.js', base, workerReady)),
    ...ports.map((port, i) => spawnApp(`api ${i + 1}`, 'dist/api/main.js', { ...base, PORT: String(port) }, apiReady(port))),
  ];
}

async function expectAllUp(processes: AppProcess[]): Promise<void> {
  const results = await Promise.allSettled(processes.map((p) => p.ready));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${processes[i].name}: ${String(r.reason)}`] : []));
  expect(failed).toEqual([]);
  expect(processes.filter((p) => !p.alive()).map((p) => p.name)).toEqual([]);
}

describe('every process comes up on an empty database, whatever the order', () => {
  const running: AppProcess[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
  });

  test(`PostgreSQL: ${WORKERS} workers and ${APIS} API processes started at once on a new database, ${ROUNDS} times`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const db = await createDatabase('segexp_empty');
      try {
        const processes = await startTopology({ DATABASE_URL: db.url });
        running.push(...processes);
        await expectAllUp(processes);
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        try {
          const applied = await client.query('SELECT version FROM schema_migrations ORDER BY version');
          expect(applied.rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
        } finally {
          await client.end();
        }
      } finally {
        await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
        await db.drop();
      }
    }
  }, 600_000);

  test(`SQLite: ${WORKERS} workers and ${APIS} API processes started at once on a new data directory, ${ROUNDS} times`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-empty-'));
      try {
        const processes = await startTopology({ DATA_DIR: dir });
        running.push(...processes);
        await expectAllUp(processes);
        const db = openSqlite(path.join(dir, 'segment-export.db'));
        try {
          const applied = await db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
          expect(applied.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
        } finally {
          await db.close();
        }
      } finally {
        await Promise.all(running.splice(0).map((p) => p.stop('SIGKILL')));
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }, 600_000);
});
