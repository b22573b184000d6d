import { createTestApp } from '../helpers/app';
import { startInProcessWorker, uniqueTaskQueue } from '../helpers/worker';
import { expectCountsReconcile, historyText, sandboxStats, seedProfiles, setupExport, startRunViaApi, waitForRun } from './fixtures';

/**
 * Import status: one list-activities request reads every pending import of a run at each poll,
 * never one request per import. 25 small imports are all pending at once (the sandbox imports
 * slowly), and the run's polls and the sandbox's count of list reads must match one to one.
 */

test('25 pending imports: one status read per poll, none per import', async () => {
  const app = await createTestApp({
    kind: 'sqlite',
    sandbox: { importMsPerContact: 10, importMinMs: 20 },
    env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('status-reads'), CC_MAX_CONTACTS_PER_IMPORT: '40' },
  });
  const worker = await startInProcessWorker({ config: app.config, store: app.store, logger: app.logger });
  try {
    await seedProfiles(app.store, 1200);
    const { exportId } = await setupExport(app);
    const before = await sandboxStats(app);
    const run = await startRunViaApi(app, exportId);
    const ended = await waitForRun(app, run.id, { timeoutMs: 180_000 });
    expect(ended.status).toBe('succeeded');
    expectCountsReconcile(ended.counts);
    const after = await sandboxStats(app);
    const imports = after.importRequests - before.importRequests;
    expect(imports).toBeGreaterThanOrEqual(25);

    const history = await historyText(app.temporal, run.workflowId);
    const polls = history.text.match(/"activityType":\{"name":"pollImports"\}/g)?.length ?? 0;
    const listReads = (after.byRoute['GET /v3/activities'] ?? 0) - (before.byRoute['GET /v3/activities'] ?? 0);
    const singleReads = (after.byRoute['GET /v3/activities/:id'] ?? 0) - (before.byRoute['GET /v3/activities/:id'] ?? 0);
    expect(polls).toBeGreaterThan(0);
    expect(listReads).toBe(polls);
    // The only single-activity reads are the list read's contact export checks, not imports.
    expect(singleReads).toBeLessThan(imports / 4);
    expect(after.maxRequestsInOneSecond).toBeLessThanOrEqual(4);
  } finally {
    await worker.stop();
    await app.close();
  }
}, 240_000);
