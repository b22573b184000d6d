import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { RunJson } from '../../api/run-view';
import { createTestApp, type TestApp } from '../helpers/app';
import { exitOf, interrupt, nothingLeft, npmStart, waitFor as waitUntil, waitForOutput, type NpmStart } from '../helpers/npm-start';
import { testDatabaseUrl } from '../helpers/stores';
import { childEnvironment, uniqueTaskQueue } from '../helpers/worker';
import { expectCountsReconcile, expectedEmails, listMembers, sandboxStats, seedProfiles, setupExport } from '../runs/fixtures';
import { freeConsecutivePorts } from './processes';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const clusterScripts = require('../../scripts/cluster.js') as { freeServerPorts(): Promise<Record<string, number>> };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { freePort } = require('../../scripts/temporal.js') as { freePort(): Promise<number> };

/**
 * `npm run cluster`, the deployment docker-compose.yml describes, on this machine: Temporal's own
 * server with PostgreSQL persistence and visibility in databases of this test, its UI, two workers
 * and two API processes on a PostgreSQL store, all children of its supervisor; the test's Constant
 * Contact sandbox stands in for the real service. One 100,000-profile export goes through a worker
 * killed with SIGKILL, an API process stopped and the Temporal server killed, each restarted by the
 * supervisor; then runs started through one API are read through the other, a Temporal Schedule
 * fires on the cluster, and Ctrl-C stops every process.
 */

const runJs = path.resolve(__dirname, '../../scripts/run.js');
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

/** Whether the cluster's child `name` (its output is prefixed with it) has called Constant Contact. */
const didConstantContactWork = (cluster: NpmStart, name: string) => new RegExp(`^${name} *\\| .*(chunk uploaded|import finished)`, 'm').test(cluster.out.text);

/** The pid in the supervisor's line `<name> restarted (pid N)`, once it is printed. */
async function restartedPid(cluster: NpmStart, name: string, timeoutMs: number): Promise<number> {
  return Number((await waitForOutput(cluster, new RegExp(`\\[run\\] ${name} restarted \\(pid (\\d+)\\)`), timeoutMs))[1]);
}

describe('npm run cluster: a Temporal server on PostgreSQL, two workers and two API processes under one supervisor', () => {
  const prefix = `segexp_${randomBytes(4).toString('hex')}_`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-cluster-'));
  let cluster: NpmStart | undefined;
  let app: TestApp | undefined;

  afterAll(async () => {
    if (cluster) await interrupt(cluster.child);
    await app?.close();
    await dropDatabases([`${prefix}temporal`, `${prefix}temporal_visibility`]);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('a 100,000-profile export survives a worker SIGKILLed, an API stopped and the server killed, each restarted; both APIs see every run; a Schedule fires; Ctrl-C stops all', async () => {
    const ports = { api: await freeConsecutivePorts(2), grpc: (await clusterScripts.freeServerPorts()).FRONTEND_GRPC_PORT, ui: await freePort(), sandbox: await freePort() };
    app = await createTestApp({
      kind: 'postgres',
      sandbox: { importMsPerContact: 0, importMinMs: 20 },
      // Chunks of 5,000: twenty imports, so the faults below land in the middle of the uploads.
      env: {
        TEMPORAL_ADDRESS: `127.0.0.1:${ports.grpc}`,
        TEMPORAL_UI_URL: `http://127.0.0.1:${ports.ui}`,
        TEMPORAL_TASK_QUEUE: uniqueTaskQueue('cluster'),
        CC_MAX_CONTACTS_PER_IMPORT: '5000',
      },
    });
    // The test's sandbox stands in for the real Constant Contact (CC_SANDBOX false): the cluster starts none of its own.
    const env = {
      ...childEnvironment(app.config, app.testStore.env, { API_KEYS: `admin:${app.adminKey}`, LOG_LEVEL: 'info', CC_SANDBOX: 'false' }),
      CLUSTER_DATABASE_URL: testDatabaseUrl(),
      CLUSTER_DATABASE_PREFIX: prefix,
    };
    const started = npmStart(runJs, { dataDir, ports, env, args: ['cluster', '--workers', '2', '--apis', '2'] });
    cluster = started;
    await waitForOutput(started, /^ready$/m, 300_000);
    const [a, b] = [0, 1].map((i) => `http://127.0.0.1:${ports.api + i}`);
    expect(started.out.text).toContain('segment-export cluster is running: 2 workers, 2 API processes');
    expect(started.out.text).toContain(`API 2         ${b}`);
    expect(started.out.text).toContain(`Temporal UI   http://127.0.0.1:${ports.ui}`);
    expect(started.out.text).toMatch(new RegExp(`databases ${prefix}temporal and ${prefix}temporal_visibility`));
    expect(started.out.text).not.toMatch(/^sandbox started/m);
    expect((await fetch(`http://127.0.0.1:${ports.ui}/`)).status).toBe(200);

    await seedProfiles(app.store, PROFILES);
    const { exportId } = await setupExport(app);
    const key = app.adminKey;

    // A run started through API 1 is visible through API 2.
    const run = (await call<{ run: RunJson }>(a, key, 'POST', `/v1/exports/${exportId}/runs`)).body.run;
    expect((await call(b, key, 'GET', `/v1/runs/${run.id}`)).body).toMatchObject({ id: run.id, exportId, status: 'running' });
    const readB = async () => (await call(b, key, 'GET', `/v1/runs/${run.id}`)).body;

    // Both workers take part; then one is killed in the middle of the uploads, and comes back.
    await waitFor('both workers calling Constant Contact', async () => ['worker1', 'worker2'].map((w) => didConstantContactWork(started, w)), (w) => w.every(Boolean), 120_000);
    const beforeKill = await readB();
    expect(beforeKill.status).toBe('running');
    expect(beforeKill.progress.chunksDone).toBeLessThan(beforeKill.progress.chunksTotal);
    const worker1 = started.startedPid('worker1');
    process.kill(worker1, 'SIGKILL');
    const worker1Again = await restartedPid(started, 'worker1', 60_000);
    expect(worker1Again).not.toBe(worker1);
    expect(started.out.text).toContain('[run] worker1 exited unexpectedly (SIGKILL); restarting it in 0.5 s');

    // API 1 stopped: it drains and exits 0, API 2 answers meanwhile, and it is started again.
    const api1 = started.startedPid('api1');
    process.kill(api1, 'SIGTERM');
    const api1Again = await restartedPid(started, 'api1', 60_000);
    expect(started.out.text).toContain('[run] api1 exited unexpectedly (code 0); restarting it in 0.5 s');
    expect(api1Again).not.toBe(api1);

    // The Temporal server crashes (SIGKILL) once the workers have moved the run on; it is restarted on its databases.
    const afterKill = await waitFor('progress after the kill', readB, (r) => r.counts.sent > beforeKill.counts.sent || r.status !== 'running', 120_000);
    expect(afterKill.status).toBe('running');
    const server = started.startedPid('temporal');
    process.kill(-server, 'SIGKILL');
    const serverAgain = await restartedPid(started, 'temporal', 180_000);
    expect(started.out.text).toContain(`[run] temporal restarted (pid ${serverAgain}): on the same PostgreSQL databases`);

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

    // A run started through API 2 is visible through the restarted API 1.
    const second = await call<{ run: RunJson }>(b, key, 'POST', `/v1/exports/${exportId}/runs`);
    expect(second.status).toBe(202);
    expect((await call(a, key, 'GET', `/v1/runs/${second.body.run.id}`)).body).toMatchObject({ id: second.body.run.id, trigger: 'on-demand' });
    const secondEnded = await waitFor('the second run to end', async () => (await call(a, key, 'GET', `/v1/runs/${second.body.run.id}`)).body, (r) => r.status !== 'running', 180_000);
    expect(secondEnded.status).toBe('succeeded');

    // A Temporal Schedule on the cluster fires (every minute) and starts a run of the export.
    const scheduled = await call(a, key, 'PUT', `/v1/exports/${exportId}/schedule`, { schedule: { mode: 'custom', cron: '* * * * *', timezone: 'UTC' } });
    expect(scheduled.status).toBe(200);
    const runsOf = async (api: string) => (await call<{ items: RunJson[] }>(api, key, 'GET', `/v1/exports/${exportId}/runs`)).body.items;
    const fired = await waitFor('a run started by the schedule', () => runsOf(b), (items) => items.some((r) => r.trigger === 'schedule' && r.status !== 'running'), 150_000);
    expect(fired.find((r) => r.trigger === 'schedule')).toMatchObject({ status: 'succeeded' });
    expect((await call(b, key, 'PUT', `/v1/exports/${exportId}/schedule`, { schedule: { mode: 'off' } })).status).toBe(200);
    const ids = async (api: string) => (await runsOf(api)).map((r) => r.id).sort();
    expect(await ids(a)).toEqual(await ids(b));

    // Ctrl-C stops every process, the restarted ones included, and frees every port.
    const pids = [worker1Again, started.startedPid('worker2'), api1Again, started.startedPid('api2'), serverAgain, started.startedPid('temporal-ui')];
    started.child.kill('SIGINT');
    expect(await exitOf(started.child)).toBe(0);
    expect(started.out.text).toMatch(/^Stopped\.$/m);
    await waitUntil(() => nothingLeft(pids, [ports.api, ports.api + 1, ports.grpc, ports.ui]), 30_000);
  }, 1_200_000);
});
