import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { RunJson } from '../../api/run-view';
import { createTestApp, type TestApp } from '../helpers/app';
import { testDatabaseUrl } from '../helpers/stores';
import { childEnvironment, uniqueTaskQueue } from '../helpers/worker';
import { expectCountsReconcile, expectedEmails, listMembers, sandboxStats, seedProfiles, setupExport } from '../runs/fixtures';
import { apiReady, spawnApp, workerReady, type AppProcess } from './processes';

interface TemporalCluster {
  address: string;
  restartServer(o?: { kill?: boolean }): Promise<void>;
  stop(): Promise<void>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const clusterScripts = require('../../scripts/cluster.js') as {
  freeServerPorts(): Promise<Record<string, number>>;
  startTemporalCluster(o: Record<string, unknown>): Promise<TemporalCluster>;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { freePort } = require('../../scripts/temporal.js') as { freePort(): Promise<number> };

/**
 * The deployment docker-compose.yml describes, on this machine: Temporal's own server (the binary
 * npm run cluster builds) with PostgreSQL persistence and visibility in databases of this test, two
 * workers and two API processes on a PostgreSQL store, the Constant Contact sandbox. One 100,000
 * profile export goes through a worker killed with SIGKILL, an API process stopped and the Temporal
 * server killed and started again; then runs started through one API are read through the other,
 * and a Temporal Schedule fires on the cluster.
 */

const PROFILES = 100_000;

/** A request to one API process with the admin key. */
async function call<T = RunJson>(api: string, key: string, method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${api}${p}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

async function waitFor<T>(what: string, read: () => Promise<T>, until: (v: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read().catch(() => last);
    if (last !== undefined && until(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: not in ${timeoutMs / 1000} s; last seen ${JSON.stringify(last)?.slice(0, 1500)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function dropDatabases(names: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  try {
    for (const name of names) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

const didConstantContactWork = (p: AppProcess) => /chunk uploaded|import finished/.test(p.output());

describe('scale-out on a Temporal server with PostgreSQL: two workers, two API processes', () => {
  const suffix = randomBytes(4).toString('hex');
  const databases = { temporal: `segexp_temporal_${suffix}`, visibility: `segexp_temporal_vis_${suffix}` };
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-cluster-'));
  const processes: AppProcess[] = [];
  let cluster: TemporalCluster | undefined;
  let app: TestApp | undefined;

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGKILL')));
    await app?.close();
    await cluster?.stop();
    await dropDatabases([databases.temporal, databases.visibility]);
    fs.rmSync(logDir, { recursive: true, force: true });
  });

  test('a 100,000-profile export survives a worker SIGKILLed, an API stopped and the server restarted; both APIs see every run; a Schedule fires', async () => {
    cluster = await clusterScripts.startTemporalCluster({
      databaseUrl: testDatabaseUrl(),
      databases,
      ports: await clusterScripts.freeServerPorts(),
      logDir,
      watchOwner: process.pid,
      log: () => undefined,
    });
    app = await createTestApp({
      kind: 'postgres',
      sandbox: { importMsPerContact: 0, importMinMs: 20 },
      // Chunks of 5,000: twenty imports, so the faults below land in the middle of the uploads.
      env: { TEMPORAL_ADDRESS: cluster.address, TEMPORAL_TASK_QUEUE: uniqueTaskQueue('cluster'), CC_MAX_CONTACTS_PER_IMPORT: '5000' },
    });
    await seedProfiles(app.store, PROFILES);
    const { exportId } = await setupExport(app);

    const env = childEnvironment(app.config, app.testStore.env, { API_KEYS: `admin:${app.adminKey}`, LOG_LEVEL: 'info' });
    const workers = [1, 2].map((i) => spawnApp(`worker ${i}`, 'dist/worker/main.js', env, workerReady));
    const ports = [await freePort(), await freePort()];
    const [apiA, apiB] = ports.map((port, i) => spawnApp(`api ${'AB'[i]}`, 'dist/api/main.js', { ...env, PORT: String(port) }, apiReady(port)));
    processes.push(...workers, apiA, apiB);
    await Promise.all(processes.map((p) => p.ready));
    const [a, b] = ports.map((port) => `http://127.0.0.1:${port}`);
    const key = app.adminKey;

    // A run started through API A is visible through API B.
    const started = await call<{ run: RunJson }>(a, key, 'POST', `/v1/exports/${exportId}/runs`);
    expect(started.status).toBe(202);
    const run = started.body.run;
    expect((await call(b, key, 'GET', `/v1/runs/${run.id}`)).body).toMatchObject({ id: run.id, exportId, status: 'running' });
    const readB = async () => (await call(b, key, 'GET', `/v1/runs/${run.id}`)).body;

    // Both workers take part; then one is killed in the middle of the uploads.
    await waitFor('both workers calling Constant Contact', async () => workers.map(didConstantContactWork), (w) => w.every(Boolean), 120_000);
    const beforeKill = await readB();
    expect(beforeKill.status).toBe('running');
    expect(beforeKill.progress.chunksDone).toBeLessThan(beforeKill.progress.chunksTotal);
    await workers[0].stop('SIGKILL');
    await apiA.stop('SIGTERM');
    expect(await apiA.exited).toBe(0);

    // The Temporal server crashes (SIGKILL) once the surviving worker has moved the run on.
    const afterKill = await waitFor('progress after the kill', readB, (r) => r.counts.sent > beforeKill.counts.sent || r.status !== 'running', 120_000);
    expect(afterKill.status).toBe('running');
    await cluster.restartServer({ kill: true });

    const ended = await waitFor('the run to end', readB, (r) => r.status !== 'running', 300_000);
    expect(ended).toMatchObject({ status: 'succeeded', error: null });
    const expected = expectedEmails(PROFILES);
    expect(ended.counts).toMatchObject({ segmentProfiles: PROFILES, sent: expected.emails.size, imported: expected.emails.size, rejected: expected.rejected, duplicates: expected.duplicates });
    expectCountsReconcile(ended.counts);
    const members = await listMembers(app);
    const landed = new Set(members.map((m) => String(m.email).toLowerCase()));
    expect(members.length).toBe(expected.emails.size);
    expect([...expected.emails].filter((e) => !landed.has(e))).toEqual([]);
    // Both workers and the API together stayed within Constant Contact's per-key limit.
    expect((await sandboxStats(app)).maxRequestsInOneSecond).toBeLessThanOrEqual(4);

    // A replacement for API A; a run started through API B is visible through it.
    const port = await freePort();
    const apiA2 = spawnApp('api A2', 'dist/api/main.js', { ...env, PORT: String(port) }, apiReady(port));
    processes.push(apiA2);
    await apiA2.ready;
    const a2 = `http://127.0.0.1:${port}`;
    const second = await call<{ run: RunJson }>(b, key, 'POST', `/v1/exports/${exportId}/runs`);
    expect(second.status).toBe(202);
    expect((await call(a2, key, 'GET', `/v1/runs/${second.body.run.id}`)).body).toMatchObject({ id: second.body.run.id, trigger: 'on-demand' });
    const secondEnded = await waitFor('the second run to end', async () => (await call(a2, key, 'GET', `/v1/runs/${second.body.run.id}`)).body, (r) => r.status !== 'running', 180_000);
    expect(secondEnded.status).toBe('succeeded');

    // A Temporal Schedule on the cluster fires (every minute) and starts a run of the export.
    const scheduled = await call(a2, key, 'PUT', `/v1/exports/${exportId}/schedule`, { schedule: { mode: 'custom', cron: '* * * * *', timezone: 'UTC' } });
    expect(scheduled.status).toBe(200);
    const runsOf = async (api: string) => (await call<{ items: RunJson[] }>(api, key, 'GET', `/v1/exports/${exportId}/runs`)).body.items;
    const fired = await waitFor('a run started by the schedule', () => runsOf(b), (items) => items.some((r) => r.trigger === 'schedule' && r.status !== 'running'), 150_000);
    expect(fired.find((r) => r.trigger === 'schedule')).toMatchObject({ status: 'succeeded' });
    expect((await call(b, key, 'PUT', `/v1/exports/${exportId}/schedule`, { schedule: { mode: 'off' } })).status).toBe(200);
    const ids = async (api: string) => (await runsOf(api)).map((r) => r.id).sort();
    expect(await ids(a2)).toEqual(await ids(b));
  }, 1_200_000);
});
