import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import pg from 'pg';
import { autogroupNice } from '../../common/priority';
import { openPostgres } from '../../store/db';
import { isBackendOf } from '../../store/session-priority';
import { openStore, type Store } from '../../store';
import { TEST_SECRETS_KEY, testDatabaseUrl } from '../helpers/stores';

/**
 * On a machine that runs PostgreSQL beside the API, the backends doing background work (store
 * jobs, imports, the worker's) run in sessions of a lower nice, so that the backends of the API's
 * reads and the API itself keep their share of the cores.
 */

test('recognises the backend of a client by the client address and port in its process title', () => {
  const title = 'postgres: 15/main: postgres test 127.0.0.1(53194) idle\u0000\u0000';
  expect(isBackendOf(title, '127.0.0.1', 53194)).toBe(true);
  expect(isBackendOf('postgres: app test 127.0.0.1(53194) SELECT', '127.0.0.1', 53194)).toBe(true);
  expect(isBackendOf('postgres: app test ::1(40000) idle', '::1', 40000)).toBe(true);
  expect(isBackendOf(title, '127.0.0.1', 5319)).toBe(false);
  expect(isBackendOf(title, '127.0.0.2', 53194)).toBe(false);
  expect(isBackendOf(title, undefined, 53194)).toBe(false);
  expect(isBackendOf('node server.js 127.0.0.1(53194)', '127.0.0.1', 53194)).toBe(false);
});

/** The nice of the autogroup of each backend of this database named `applicationName`, once every one of them has settled (or 2 s). */
async function backendNices(admin: pg.Client, applicationName: string, expected: number): Promise<number[]> {
  const deadline = Date.now() + 2000;
  for (;;) {
    const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()', [applicationName]);
    const nices = rows.map((r) => autogroupNice(fs.readFileSync(`/proc/${r.pid}/autogroup`, 'utf8')) ?? Number.NaN);
    if ((nices.length > 0 && nices.every((n) => n === expected)) || Date.now() > deadline) return nices;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** At least one backend, and every one at `nice`. */
function expectAll(nices: number[], nice: number): void {
  expect(nices.length).toBeGreaterThanOrEqual(1);
  expect(nices).toEqual(nices.map(() => nice));
}

const autogroupKnown = fs.existsSync('/proc/self/autogroup');

describe('PostgreSQL backends doing background work run in lowered sessions', () => {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: testDatabaseUrl() });
  const closing: Array<() => Promise<void>> = [];
  /** What a backend's session starts at, and whether this process may change another user's process (root may). */
  let startNice = 0;
  let mayLower = false;

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const { rows } = await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    if (autogroupKnown) startNice = autogroupNice(fs.readFileSync(`/proc/${rows[0].pid}/autogroup`, 'utf8')) ?? 0;
    mayLower = autogroupKnown && process.getuid?.() === 0;
  });
  afterAll(async () => {
    for (const close of closing.reverse()) await close();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  const lowered = (by: number) => (mayLower ? Math.min(19, startNice + by) : startNice);

  it('a pool with a session nice lowers each backend it opens; one without leaves its backends as they are', async () => {
    expect(autogroupKnown).toBe(process.platform === 'linux');
    if (!autogroupKnown) return;
    const name = `segment-export test ${randomBytes(3).toString('hex')}`;
    const background = openPostgres(testDatabaseUrl(), { applicationName: `${name} background`, sessionNice: 7, max: 2 });
    const plain = openPostgres(testDatabaseUrl(), { applicationName: `${name} plain`, max: 2 });
    closing.push(() => background.close(), () => plain.close());
    const twoConnections = (db: typeof plain) => db.tx(() => db.get('SELECT pg_sleep(0)'));
    await Promise.all([twoConnections(background), background.get('SELECT 1')]);
    await plain.get('SELECT 1');
    const nices = await backendNices(admin, `${name} background`, lowered(7));
    expect(nices).toHaveLength(2);
    expectAll(nices, lowered(7));
    expectAll(await backendNices(admin, `${name} plain`, startNice), startNice);
  });

  it('a store’s jobs (a segment refresh) and its imports run on lowered backends; its own pool’s by the nice it is given', async () => {
    if (!autogroupKnown) return;
    const store: Store = await openStore({ databaseUrl: testDatabaseUrl(), schema, secretsKey: TEST_SECRETS_KEY, processName: 'prio', sessionNice: 3 });
    closing.push(() => store.close());
    await store.imports.run(Readable.from(['{"id":"prio-1","email":"a@example.com"}']), 'ndjson', {});
    const segment = await store.segments.create({ name: 'everyone', rule: { all: [] } });
    expect((await store.segments.refresh(segment.id))?.memberCount).toBe(1);
    expectAll(await backendNices(admin, 'segment-export prio jobs', lowered(10)), lowered(10));
    expectAll(await backendNices(admin, 'segment-export prio import', lowered(10)), lowered(10));
    expectAll(await backendNices(admin, 'segment-export prio', lowered(3)), lowered(3));
  });
});
