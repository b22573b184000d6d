import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../activities';
import type { ScheduledRunOutcome } from '../../activities/schedules';
import { newId } from '../../common/ids';
import type { RunRecord } from '../../store/runs';
import { DEFAULT_LIST_ID } from '../../sandbox/server';
import { connectSandboxConnection, createTestApp, type TestApp } from '../helpers/app';
import { storeKinds } from '../helpers/stores';
import { startInProcessWorker, uniqueTaskQueue, type InProcessWorker } from '../helpers/worker';
import { seedProfiles, waitForRun } from '../runs/fixtures';

/**
 * The schedule activities under retry, on both stores: each attempt 1 does its work and then loses
 * its answer (as when the worker dies before Temporal hears of it), so Temporal runs attempt 2.
 * The retry must find what the first attempt recorded: one run row, never two.
 */

/** Activities whose answers of attempt 1 get lost; the segment refresh fails at once. */
function loseFirstAnswers(activities: Activities, attempts: string[]): Activities {
  const lossy: Record<string, unknown> = { ...activities };
  for (const name of ['startExportRun', 'recordSkippedRuns'] as const) {
    const real = activities[name] as (input: unknown) => Promise<unknown>;
    lossy[name] = async (input: unknown) => {
      const answer = await real(input);
      attempts.push(name);
      if (Context.current().info.attempt === 1) throw new Error('the answer was lost on its way to Temporal');
      return answer;
    };
  }
  lossy.refreshAllSegments = async () => {
    throw ApplicationFailure.create({ type: 'store_unavailable', message: 'the store is away', nonRetryable: true });
  };
  return lossy as Activities;
}

describe.each(storeKinds)('retried schedule activities record one row (%s)', (kind) => {
  let app: TestApp;
  let worker: InProcessWorker;
  let connectionId: string;
  let segmentId: string;
  const attempts: string[] = [];

  beforeAll(async () => {
    app = await createTestApp({ kind, sandbox: { importMsPerContact: 0, importMinMs: 20 }, env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('retried'), LOG_LEVEL: 'info' } });
    worker = await startInProcessWorker({ config: app.config, store: app.store, logger: app.logger, wrapActivities: (a) => loseFirstAnswers(a, attempts) });
    await seedProfiles(app.store, 20, { awkward: false });
    connectionId = await connectSandboxConnection(app);
    segmentId = (await app.as('admin').post('/v1/segments', { name: 'Everyone', rule: { all: [] } })).body.id;
    await app.as('admin').post(`/v1/segments/${segmentId}/refresh`);
  });
  afterAll(async () => {
    await worker?.stop();
    await app?.close();
  });
  beforeEach(() => {
    attempts.length = 0;
  });

  async function createExport(name: string, schedule: unknown): Promise<string> {
    const res = await app.as('admin').post('/v1/exports', {
      name,
      connectionId,
      listId: DEFAULT_LIST_ID,
      mapping: { email: 'EmailAddress' },
      segmentIds: [segmentId],
      schedule,
    });
    if (res.status !== 201) throw new Error(`POST /v1/exports: ${res.status} ${res.text}`);
    return res.body.id;
  }

  async function runsOf(exportId: string): Promise<RunRecord[]> {
    const rows = await app.store.db.all<{ id: string }>('SELECT id FROM runs WHERE export_id = ? ORDER BY started_at, id', [exportId]);
    return Promise.all(rows.map(async (r) => (await app.store.runs.get(r.id))!));
  }

  const scheduledStart = (exportId: string): Promise<ScheduledRunOutcome> =>
    app.temporal.workflow.execute('scheduledExportRun', {
      taskQueue: app.config.temporal.taskQueue,
      workflowId: `retried-start-${exportId}`,
      args: [{ exportId }],
    });

  // New Year's Day at midnight: the schedule never fires during the test.
  const yearly = { mode: 'custom', cron: '0 0 1 1 *', timezone: 'UTC' };

  test('a scheduled start retried after it started the run: one run, one workflow, and it succeeds', async () => {
    const exportId = await createExport('Retried start', yearly);
    const outcome = await scheduledStart(exportId);
    expect(attempts).toEqual(['startExportRun', 'startExportRun']);
    expect(outcome).toMatchObject({ exportId, outcome: 'started' });
    const runs = await runsOf(exportId);
    expect(runs.map((r) => r.id)).toEqual([outcome.runId]);
    expect(await waitForRun(app, outcome.runId!, { timeoutMs: 60_000 })).toMatchObject({ status: 'succeeded', counts: { sent: 20 } });
    // The workflow ends just after it recorded the run's end.
    const handle = app.temporal.workflow.getHandle(runs[0].workflowId);
    await handle.result();
    expect((await handle.describe()).status.name).toBe('COMPLETED');
  });

  test('a scheduled start retried after it recorded a skipped run: one skipped run', async () => {
    const exportId = await createExport('Retried skip', yearly);
    // A run of the export is going (started a moment ago; its workflow is not known yet).
    const going = newId('run');
    await app.store.runs.createRunning({ id: going, exportId, trigger: 'on-demand', workflowId: `export-run-${exportId}-${going}`, startedAt: new Date().toISOString() });

    const outcome = await scheduledStart(exportId);
    expect(attempts).toEqual(['startExportRun', 'startExportRun']);
    expect(outcome).toMatchObject({ exportId, outcome: 'skipped', error: { code: 'run_in_progress' } });
    const runs = await runsOf(exportId);
    expect(runs.map((r) => [r.id, r.status]).sort()).toEqual([[going, 'running'], [outcome.runId, 'skipped']].sort());
  });

  test("the refresh's skipped runs, retried: one skipped run per export", async () => {
    const exports = [await createExport('With refresh A', { mode: 'with-refresh' }), await createExport('With refresh B', { mode: 'with-refresh' })];
    const err = await app.temporal.workflow
      .execute('refresh', { taskQueue: app.config.temporal.taskQueue, workflowId: `retried-refresh-${exports[0]}`, args: [{ source: 'on-demand' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('segment_refresh_failed');
    expect(attempts).toEqual(['recordSkippedRuns', 'recordSkippedRuns']);
    for (const exportId of exports) {
      const runs = await runsOf(exportId);
      expect(runs.map((r) => [r.status, r.error?.code])).toEqual([['skipped', 'segment_refresh_failed']]);
    }
  });
});
