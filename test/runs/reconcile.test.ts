import type { Duration } from '@temporalio/common';
import { newId } from '../../common/ids';
import { eventIdOf } from '../../services/events';
import { exportRunStartOptions } from '../../services/run-start';
import { createTestApp, type TestApp } from '../helpers/app';
import { storeKinds } from '../helpers/stores';
import { childEnvironment, spawnWorker, uniqueTaskQueue, type WorkerProcess } from '../helpers/worker';
import { seedProfiles, setupExport, startRunViaApi, waitForRun } from './fixtures';

/**
 * The run reconciler of the worker (the built worker, dist/worker/main.js, checking every second):
 * a run whose workflow closed without ending its run record — terminated from the Temporal UI,
 * timed out, failed before it could record its end — ends `failed` with a code within seconds,
 * through the same end hooks (its `run.failed` event is recorded). On both stores.
 */

describe.each(storeKinds)('the run reconciler (%s)', (kind) => {
  let app: TestApp;
  let worker: WorkerProcess;
  let exportId: string;

  beforeAll(async () => {
    app = await createTestApp({ kind, env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('reconcile'), CC_RATE_PER_DAY: '1000', LOG_LEVEL: 'info' } });
    await seedProfiles(app.store, 20, { awkward: false });
    ({ exportId } = await setupExport(app));
    worker = spawnWorker(childEnvironment(app.config, app.testStore.env, { RUN_RECONCILE_INTERVAL_SECONDS: '1' }));
    await worker.ready;
    // The day's budget is spent: every run waits for the quota (a long wait an operator might end).
    await app.store.db.run('UPDATE rate_limits SET window_count = 1000 WHERE key = ?', [app.config.constantContact.clientId]);
  });
  afterAll(async () => {
    await worker?.kill('SIGKILL');
    await app?.close();
  });

  /** Waits for the run to end; it must within a minute of `since`. */
  async function endedSince(runId: string, since: number) {
    const ended = await waitForRun(app, runId, { timeoutMs: 60_000 });
    expect(Date.now() - since).toBeLessThan(60_000);
    // The end's event is published just after the end is recorded.
    const eventId = eventIdOf(`run.${ended.status}-${runId}`);
    for (const deadline = Date.now() + 10_000; !(await app.store.events.get(eventId)) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 200));
    expect(await app.store.events.get(eventId)).toBeDefined();
    return ended;
  }

  /** A run row and its workflow, started as the API does but with `extra` start options and input. */
  async function startRun(extra: { workflowExecutionTimeout?: Duration; input?: { runId: string } } = {}) {
    const exp = (await app.store.exports.get(exportId))!;
    const runId = newId('run');
    const options = exportRunStartOptions(app.config, exp, { id: runId, trigger: 'on-demand' });
    await app.store.runs.createRunning({ id: runId, exportId, trigger: 'on-demand', workflowId: options.workflowId, startedAt: new Date().toISOString() });
    const args = [{ runId, exportId, trigger: 'on-demand' as const, ...extra.input }];
    await app.temporal.workflow.start('exportRun', { ...options, args, workflowExecutionTimeout: extra.workflowExecutionTimeout });
    return { runId, workflowId: options.workflowId };
  }

  test('a run terminated from the Temporal UI ends failed workflow_terminated', async () => {
    const run = await startRunViaApi(app, exportId);
    await waitForRun(app, run.id, { timeoutMs: 30_000, until: (r) => r.progress.phase === 'waiting-for-quota' });
    await app.temporal.workflow.getHandle(run.workflowId).terminate('an operator ended it');
    const ended = await endedSince(run.id, Date.now());
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'workflow_terminated' } });
  });

  test('a run whose workflow timed out ends failed workflow_timed_out', async () => {
    const since = Date.now();
    const { runId } = await startRun({ workflowExecutionTimeout: '3 seconds' });
    await waitForRun(app, runId, { timeoutMs: 30_000, until: (r) => r.progress.phase === 'waiting-for-quota' || r.status !== 'running' });
    const ended = await endedSince(runId, since);
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'workflow_timed_out' } });
  });

  test('a run whose workflow failed before it could record the end ends failed with the workflow\'s code', async () => {
    // The workflow is given a run that does not exist: it fails (run_not_found) and cannot record an end.
    const since = Date.now();
    const { runId, workflowId } = await startRun({ input: { runId: newId('run') } });
    const failure = await app.temporal.workflow.getHandle(workflowId).result().catch((err) => err);
    expect(failure.cause).toMatchObject({ type: 'run_not_found' });
    const ended = await endedSince(runId, since);
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'run_not_found' } });
  });
});
