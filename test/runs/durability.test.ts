import fs from 'node:fs';
import type { RunJson } from '../../api/run-view';
import os from 'node:os';
import path from 'node:path';
import { createTestApp, type TestApp } from '../helpers/app';
import { testTemporal } from '../helpers/temporal';
import { childEnvironment, spawnWorker, uniqueTaskQueue, type WorkerProcess } from '../helpers/worker';
import { expectCountsReconcile, expectedEmails, listMembers, sandboxStats, seedProfiles, setupExport, startRunViaApi, waitForRun } from './fixtures';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const temporalScripts = require('../../scripts/temporal.js') as {
  startDevServer(o: Record<string, unknown>): Promise<{ address: string; pid: number; stop(): Promise<void> }>;
  freePort(): Promise<number>;
};

/**
 * Nothing lost under fire: a worker SIGKILLed in the middle of uploading, the Temporal server killed
 * and restarted in the middle of a run, and Constant Contact failing, throttling and resetting
 * connections with two workers sharing the rate limit. Workers are child processes running the
 * built worker (dist/worker/main.js) on a task queue of this file; the store is a SQLite file they
 * share with the test's API. Each run must end `succeeded` with exactly the expected list members.
 */

const PROFILES = 8000;
const CHUNK = '400';

async function expectExactExport(app: TestApp, runId: string, profiles: number): Promise<RunJson> {
  const ended = await waitForRun(app, runId, { timeoutMs: 180_000 });
  expect(ended).toMatchObject({ status: 'succeeded', error: null });
  const expected = expectedEmails(profiles);
  expect(ended.counts).toMatchObject({ segmentProfiles: profiles, sent: expected.emails.size, rejected: expected.rejected, duplicates: expected.duplicates });
  expectCountsReconcile(ended.counts);
  const members = await listMembers(app);
  const emails = new Set(members.map((m) => String(m.email).toLowerCase()));
  expect(members.length).toBe(expected.emails.size);
  expect([...expected.emails].filter((e) => !emails.has(e))).toEqual([]);
  return ended;
}

/** The ledger's rows against the contacts of the completed imports, read in one transaction. */
async function ledgerVsCompleted(app: TestApp): Promise<{ same: boolean } | { ledger: number; completed: number }> {
  return app.store.db.tx(async (tx) => {
    const ledger = Number((await tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM delivery_ledger'))?.n ?? 0);
    const completed = Number((await tx.get<{ n: number }>("SELECT COALESCE(SUM(contacts), 0) AS n FROM run_chunks WHERE state = 'completed'"))?.n ?? 0);
    return ledger === completed ? { same: true } : { ledger, completed };
  });
}

describe('durability (child-process workers)', () => {
  const workers: WorkerProcess[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.kill('SIGKILL')));
  });

  test('a worker killed with SIGKILL in the middle of uploading: a new worker finishes the run, no contact missing', async () => {
    const app = await createTestApp({
      kind: 'sqlite',
      sandbox: { importMsPerContact: 0, importMinMs: 20 },
      env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('kill'), CC_MAX_CONTACTS_PER_IMPORT: CHUNK },
    });
    try {
      await seedProfiles(app.store, PROFILES);
      const { exportId } = await setupExport(app);
      const env = childEnvironment(app.config, app.testStore.env);
      const first = spawnWorker(env);
      workers.push(first);
      await first.ready;

      const run = await startRunViaApi(app, exportId);
      await waitForRun(app, run.id, { timeoutMs: 60_000, until: (r) => r.counts.sent >= 1600 || r.status !== 'running' });
      await first.kill('SIGKILL');
      const atKill = await waitForRun(app, run.id, { until: () => true });
      expect(atKill.status).toBe('running');
      expect(atKill.counts.sent).toBeLessThan(PROFILES - 800);
      // Delivered means imported: the ledger holds exactly the contacts of completed imports.
      expect(await ledgerVsCompleted(app)).toEqual({ same: true });

      const second = spawnWorker(env);
      workers.push(second);
      await second.ready;
      await expectExactExport(app, run.id, PROFILES);
      expect(await ledgerVsCompleted(app)).toEqual({ same: true });
      expect(await app.store.db.get('SELECT COUNT(*) AS n FROM delivery_ledger')).toEqual({ n: expectedEmails(PROFILES).emails.size });
    } finally {
      await app.close();
    }
  }, 240_000);

  test('the Temporal server killed and restarted mid-run: the run succeeds, no contact missing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'segexp-temporal-restart-'));
    const port = await temporalScripts.freePort();
    const startServer = () =>
      temporalScripts.startDevServer({
        cli: testTemporal().cli,
        port,
        headless: true,
        dbFile: path.join(dir, 'temporal.db'),
        logFile: path.join(dir, 'temporal.log'),
        watchOwner: process.pid,
        healthTimeoutMs: 120_000,
        log: () => undefined,
      });
    let server = await startServer();
    const app = await createTestApp({
      kind: 'sqlite',
      sandbox: { importMsPerContact: 0, importMinMs: 20 },
      env: { TEMPORAL_ADDRESS: server.address, TEMPORAL_TASK_QUEUE: uniqueTaskQueue('restart'), CC_MAX_CONTACTS_PER_IMPORT: CHUNK },
    });
    try {
      await seedProfiles(app.store, PROFILES);
      const { exportId } = await setupExport(app);
      const worker = spawnWorker(childEnvironment(app.config, app.testStore.env));
      workers.push(worker);
      await worker.ready;

      const run = await startRunViaApi(app, exportId);
      await waitForRun(app, run.id, { timeoutMs: 60_000, until: (r) => r.counts.sent >= 1600 || r.status !== 'running' });
      // A crash, not a shutdown: SIGKILL to the server's process group.
      process.kill(-server.pid, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 2000));
      expect((await app.as('admin').get(`/v1/runs/${run.id}`)).body.status).toBe('running');
      server = await startServer();

      await expectExactExport(app, run.id, PROFILES);
    } finally {
      await app.close();
      await Promise.all(workers.splice(0).map((w) => w.kill('SIGKILL')));
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  test('with faults on (errors, throttles, resets) and two workers, the run succeeds within the rate limit', async () => {
    const app = await createTestApp({
      kind: 'sqlite',
      sandbox: { importMsPerContact: 0, importMinMs: 20 },
      env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('faults'), CC_MAX_CONTACTS_PER_IMPORT: CHUNK },
    });
    try {
      const profiles = 6000;
      await seedProfiles(app.store, profiles);
      const { exportId } = await setupExport(app);
      const env = childEnvironment(app.config, app.testStore.env);
      const pair = [spawnWorker(env), spawnWorker(env)];
      workers.push(...pair);
      await Promise.all(pair.map((w) => w.ready));

      const faults = await app.sandboxControl('PUT', '/faults', { errorRate: 0.1, throttleRate: 0.1, resetRate: 0.05 });
      expect(faults.status).toBe(200);
      const run = await startRunViaApi(app, exportId);
      const ended = await expectExactExport(app, run.id, profiles);
      expect(ended.counts.constantContactErrors).toBe(0);

      const stats = await sandboxStats(app);
      expect(stats.maxRequestsInOneSecond).toBeLessThanOrEqual(4);
      // The faults happened and were retried: every failed request was sent again, on top of what a
      // clean run needs at least (the list check and one import per chunk).
      const injected = stats.injectedErrors + stats.injectedThrottles + stats.injectedResets;
      expect(injected).toBeGreaterThan(0);
      expect(stats.requests).toBeGreaterThanOrEqual(ended.progress.chunksTotal + 1 + injected);
      // Both workers did work.
      const logs = pair.map((w) => w.output());
      expect(logs.filter((l) => l.includes('chunk uploaded') || l.includes('import finished')).length).toBe(2);
    } finally {
      await app.close();
    }
  }, 300_000);
});
