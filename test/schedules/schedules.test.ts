import { ScheduleNotFoundError, type ScheduleHandle } from '@temporalio/client';
import { DEFAULT_LIST_ID } from '../../sandbox/server';
import { exportScheduleId, refreshScheduleId } from '../../services/schedule-options';
import type { RunJson } from '../../api/run-view';
import type { RefreshResult } from '../../workflows/refresh';
import type { ScheduledRunOutcome } from '../../activities/schedules';
import { connectSandboxConnection, createTestApp, type TestApp } from '../helpers/app';
import { temporalCli } from '../helpers/temporal';
import { startInProcessWorker, uniqueTaskQueue, type InProcessWorker } from '../helpers/worker';
import { seedProfiles, waitForRun } from '../runs/fixtures';

/**
 * Schedules end to end (SQLite store): the API, the real Temporal dev server with its Schedules,
 * an in-process worker on a task queue of this file, and the Constant Contact sandbox. Schedules
 * are triggered (handle.trigger()) rather than waited for.
 */

const RIGA_NINE = { mode: 'custom', cron: '0 9 * * *', timezone: 'Europe/Riga' } as const;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('schedules (SQLite, in-process worker, real Temporal Schedules)', () => {
  let app: TestApp;
  let worker: InProcessWorker;
  let segmentId: string;
  let connectionId: string;
  const exportsByName: Record<string, string> = {};

  const admin = () => app.as('admin');

  async function createExport(name: string, schedule: unknown, connection = connectionId): Promise<string> {
    const res = await admin().post('/v1/exports', {
      name,
      connectionId: connection,
      listId: DEFAULT_LIST_ID,
      mapping: { email: 'EmailAddress', firstName: 'FirstName' },
      segmentIds: [segmentId],
      schedule,
    });
    if (res.status !== 201) throw new Error(`POST /v1/exports: ${res.status} ${res.text}`);
    exportsByName[name] = res.body.id;
    return res.body.id;
  }

  async function runsOf(exportId: string): Promise<RunJson[]> {
    const res = await admin().get<{ items: RunJson[] }>(`/v1/exports/${exportId}/runs`);
    if (res.status !== 200) throw new Error(`GET runs: ${res.status} ${res.text}`);
    return res.body.items;
  }

  /** Triggers the schedule and answers the id of the workflow that this trigger started. */
  async function trigger(handle: ScheduleHandle): Promise<string> {
    const before = (await handle.describe()).info.numActionsTaken;
    await handle.trigger();
    const described = await waitFor(`schedule ${handle.scheduleId} to take its action`, async () => {
      const d = await handle.describe();
      return d.info.numActionsTaken > before && d.info.recentActions.length > 0 ? d : undefined;
    });
    return described.info.recentActions[described.info.recentActions.length - 1].action.workflow.workflowId;
  }

  const workflowResult = <T>(workflowId: string) => app.temporal.workflow.getHandle(workflowId).result() as Promise<T>;

  async function waitAllRunsDone(exportIds: string[]): Promise<void> {
    for (const id of exportIds) {
      for (const run of await runsOf(id)) if (run.status === 'running') await waitForRun(app, run.id, { timeoutMs: 120_000 });
    }
  }

  async function listedSchedules(): Promise<string> {
    return (await temporalCli(['schedule', 'list'])).stdout;
  }

  beforeAll(async () => {
    app = await createTestApp({
      kind: 'sqlite',
      sandbox: { importMsPerContact: 0, importMinMs: 50 },
      env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('schedules'), LOG_LEVEL: 'info' },
    });
    worker = await startInProcessWorker({ config: app.config, store: app.store, logger: app.logger });
    await seedProfiles(app.store, 20, { awkward: false });
    connectionId = await connectSandboxConnection(app);
    const segment = await admin().post('/v1/segments', { name: 'Everyone', rule: { all: [] } });
    expect(segment.status).toBe(201);
    segmentId = segment.body.id;
  });

  afterAll(async () => {
    await worker?.stop();
    await app?.close();
  });

  test('the refresh schedule: validated, stored, mirrored to a Temporal Schedule that is paused while disabled', async () => {
    const initial = await admin().get('/v1/refresh-schedule');
    expect(initial.status).toBe(200);
    expect(initial.body).toMatchObject({ enabled: false, updatedAt: null, nextRunTimes: [], scheduleId: refreshScheduleId(app.config.temporal.taskQueue) });

    const valid = { times: ['06:00'], timezone: 'Europe/Riga', days: 'daily', enabled: true };
    for (const [body, path] of [
      [{ ...valid, times: ['01:00', '02:00', '03:00', '04:00', '05:00'] }, 'body.times'],
      [{ ...valid, times: [] }, 'body.times'],
      [{ ...valid, times: ['24:00'] }, 'body.times.0'],
      [{ ...valid, times: ['6:00'] }, 'body.times.0'],
      [{ ...valid, timezone: 'Mars/Olympus_Mons' }, 'body.timezone'],
      [{ ...valid, days: ['mon', 'funday'] }, 'body.days'],
      [{ ...valid, days: [] }, 'body.days'],
      [{ ...valid, every: 'hour' }, 'body'],
    ] as const) {
      const res = await admin().put('/v1/refresh-schedule', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details.map((d: { path: string[] }) => d.path.join('.'))).toContainEqual(expect.stringContaining(path));
    }
    expect((await app.as('contributor').put('/v1/refresh-schedule', valid)).status).toBe(403);
    expect((await app.as('contributor').post('/v1/refresh')).status).toBe(403);
    // Nothing was saved, and there is no Temporal Schedule yet.
    expect((await admin().get('/v1/refresh-schedule')).body.updatedAt).toBeNull();
    const handle = app.temporal.schedule.getHandle(refreshScheduleId(app.config.temporal.taskQueue));
    await expect(handle.describe()).rejects.toThrow();

    const disabled = await admin().put('/v1/refresh-schedule', { times: ['18:00', '06:00'], timezone: 'europe/riga', days: ['fri', 'mon'], enabled: false });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ times: ['06:00', '18:00'], timezone: 'Europe/Riga', days: ['mon', 'fri'], enabled: false, nextRunTimes: [] });
    let described = await handle.describe();
    expect(described.state.paused).toBe(true);
    expect(described.spec.timezone).toBe('Europe/Riga');
    expect(described.spec.calendars).toHaveLength(2);
    expect(described.spec.calendars!.map((c) => [c.hour[0].start, c.minute[0].start, c.dayOfWeek.map((d) => d.start)])).toEqual([
      [6, 0, ['MONDAY', 'FRIDAY']],
      [18, 0, ['MONDAY', 'FRIDAY']],
    ]);
    expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'refresh', taskQueue: app.config.temporal.taskQueue });

    const enabled = await admin().put('/v1/refresh-schedule', { times: ['06:00'], timezone: 'Europe/Riga', days: 'daily', enabled: true });
    expect(enabled.status).toBe(200);
    expect(enabled.body.nextRunTimes).toHaveLength(5);
    described = await handle.describe();
    expect(described.state.paused).toBe(false);
    // What the API answers is what Temporal will do.
    expect(enabled.body.nextRunTimes).toEqual(described.info.nextActionTimes.slice(0, 5).map((d) => d.toISOString()));
    expect((await app.as('contributor').get('/v1/refresh-schedule')).body).toEqual(enabled.body);
  });

  test('a refresh refreshes every segment, then runs every with-refresh export and no other', async () => {
    const a = await createExport('Refresh A', { mode: 'with-refresh' });
    const b = await createExport('Refresh B', { mode: 'with-refresh' });
    const off = await createExport('Off', { mode: 'off' });
    const custom = await createExport('Custom Riga', RIGA_NINE);
    // A with-refresh export whose connection was removed with detachExports=true: left out.
    const otherConnection = await connectSandboxConnection(app, { displayName: 'Second account' });
    const detached = await createExport('Detached', { mode: 'with-refresh' }, otherConnection);
    const detachedCustom = await createExport('Detached custom', RIGA_NINE, otherConnection);
    expect((await admin().delete(`/v1/connections/${otherConnection}?detachExports=true`)).status).toBe(204);

    const handle = app.temporal.schedule.getHandle(refreshScheduleId(app.config.temporal.taskQueue));
    const workflowId = await trigger(handle);
    const result = await workflowResult<RefreshResult>(workflowId);

    expect(result.segmentsRefreshed).toBe(1);
    expect(result.runs.map((r) => [r.exportId, r.outcome]).sort()).toEqual([[a, 'started'], [b, 'started']].sort());
    for (const id of [off, custom, detached, detachedCustom]) expect(await runsOf(id)).toEqual([]);

    const segment = (await admin().get(`/v1/segments/${segmentId}`)).body;
    expect(segment.memberCount).toBe(20);
    for (const outcome of result.runs) {
      const done = await waitForRun(app, outcome.runId!, { timeoutMs: 120_000 });
      expect(done).toMatchObject({ exportId: outcome.exportId, trigger: 'refresh', status: 'succeeded' });
      expect(done.counts.segmentProfiles).toBe(20);
      // The run started after the segment refresh finished.
      expect(Date.parse(done.startedAt)).toBeGreaterThanOrEqual(Date.parse(segment.refreshedAt));
    }
    expect(await runsOf(a)).toHaveLength(1);
    expect(await runsOf(b)).toHaveLength(1);
  });

  test('POST /v1/refresh starts a refresh now', async () => {
    const res = await admin().post('/v1/refresh');
    expect(res.status).toBe(202);
    expect(res.body.workflowId).toMatch(/^refresh-on-demand-/);
    expect(res.body.temporalUiUrl).toContain(encodeURIComponent(res.body.workflowId));
    const result = await workflowResult<RefreshResult>(res.body.workflowId);
    expect(result.runs.map((r) => r.exportId).sort()).toEqual([exportsByName['Refresh A'], exportsByName['Refresh B']].sort());
    expect(result.runs.every((r) => r.outcome === 'started')).toBe(true);
    await waitAllRunsDone(result.runs.map((r) => r.exportId));
  });

  test('a custom schedule is a Temporal Schedule naming its export, and runs it with trigger schedule', async () => {
    const exportId = exportsByName['Custom Riga'];
    const handle = app.temporal.schedule.getHandle(exportScheduleId(exportId));
    const described = await handle.describe();
    expect(described.memo).toEqual({ exportId, exportName: 'Custom Riga' });
    expect(described.state.note).toContain('Custom Riga');
    expect(described.spec.timezone).toBe('Europe/Riga');
    expect(described.action).toMatchObject({ workflowType: 'scheduledExportRun', args: [{ exportId }], taskQueue: app.config.temporal.taskQueue });
    expect(described.action.staticSummary).toContain('Custom Riga');
    expect(await listedSchedules()).toContain(exportScheduleId(exportId));

    const read = await admin().get(`/v1/exports/${exportId}/schedule`);
    // Status and body together: a failure shows the error the API answered.
    expect(read).toMatchObject({ status: 200, body: { exportId, schedule: RIGA_NINE, scheduleId: exportScheduleId(exportId) } });
    expect(read.body.nextRunTimes).toEqual(described.info.nextActionTimes.slice(0, 5).map((d) => d.toISOString()));
    for (const t of read.body.nextRunTimes) expect(new Date(t).getUTCMinutes()).toBe(0);

    const workflowId = await trigger(handle);
    const outcome = await workflowResult<ScheduledRunOutcome>(workflowId);
    expect(outcome).toMatchObject({ exportId, outcome: 'started' });
    const done = await waitForRun(app, outcome.runId!, { timeoutMs: 120_000 });
    expect(done).toMatchObject({ exportId, trigger: 'schedule', status: 'succeeded' });
    expect(done.workflowId).toBe(`export-run-${exportId}-${done.id}`);
  });

  test('a scheduled or refresh start while a run of the export is going is recorded skipped with run_in_progress', async () => {
    const custom = exportsByName['Custom Riga'];
    const a = exportsByName['Refresh A'];
    const b = exportsByName['Refresh B'];
    // Slow imports keep the on-demand runs going.
    await app.sandboxControl('PUT', '/faults', { importMsPerContact: 400 });
    try {
      const running: Record<string, string> = {};
      for (const id of [custom, a]) {
        const res = await admin().post(`/v1/exports/${id}/runs`);
        expect(res.status).toBe(202);
        running[id] = res.body.run.id;
      }

      const scheduled = await workflowResult<ScheduledRunOutcome>(await trigger(app.temporal.schedule.getHandle(exportScheduleId(custom))));
      expect(scheduled).toMatchObject({ exportId: custom, outcome: 'skipped', error: { code: 'run_in_progress' } });

      const refresh = await admin().post('/v1/refresh');
      expect(refresh.status).toBe(202);
      const refreshed = await workflowResult<RefreshResult>(refresh.body.workflowId);
      const byExport = Object.fromEntries(refreshed.runs.map((r) => [r.exportId, r]));
      expect(byExport[a]).toMatchObject({ outcome: 'skipped', error: { code: 'run_in_progress' } });
      expect(byExport[b]).toMatchObject({ outcome: 'started' });

      const customRuns = await runsOf(custom);
      const skipped = customRuns.find((r) => r.status === 'skipped');
      expect(skipped).toMatchObject({ trigger: 'schedule', error: { code: 'run_in_progress' } });
      expect(skipped?.error?.message).toContain(running[custom]);
      expect(skipped?.workflowId).toMatch(new RegExp(`^${exportScheduleId(custom)}-`));
      expect((await runsOf(a)).find((r) => r.status === 'skipped')).toMatchObject({ trigger: 'refresh', error: { code: 'run_in_progress' } });
      // Still exactly one running run each: the skipped starts did not start a second one.
      expect((await runsOf(custom)).filter((r) => r.status === 'running').map((r) => r.id)).toEqual([running[custom]]);
      expect((await runsOf(a)).filter((r) => r.status === 'running').map((r) => r.id)).toEqual([running[a]]);
    } finally {
      await app.sandboxControl('PUT', '/faults', { importMsPerContact: 0 });
    }
    await waitAllRunsDone([custom, a, b]);
  });

  test('a schedule that cannot start its export leaves a skipped or failed run saying why', async () => {
    // Detached (its connection was removed): skipped, export_detached.
    const detachedCustom = exportsByName['Detached custom'];
    const detachedOutcome = await workflowResult<ScheduledRunOutcome>(await trigger(app.temporal.schedule.getHandle(exportScheduleId(detachedCustom))));
    expect(detachedOutcome).toMatchObject({ outcome: 'skipped', error: { code: 'export_detached' } });
    expect(await runsOf(detachedCustom)).toEqual([expect.objectContaining({ status: 'skipped', trigger: 'schedule', error: expect.objectContaining({ code: 'export_detached' }) })]);

    // Deleted while its schedule stayed behind (the store changed without the API): skipped, and the schedule goes.
    const orphan = await createExport('Orphan', RIGA_NINE);
    const orphanHandle = app.temporal.schedule.getHandle(exportScheduleId(orphan));
    await app.store.exports.softDelete(orphan, { now: new Date().toISOString() });
    const orphanOutcome = await workflowResult<ScheduledRunOutcome>(await trigger(orphanHandle));
    expect(orphanOutcome).toMatchObject({ outcome: 'skipped', error: { code: 'export_deleted' } });
    const orphanRuns = (await app.store.runs.listByExport(orphan, { limit: 10 })).items;
    expect(orphanRuns).toEqual([expect.objectContaining({ status: 'skipped', trigger: 'schedule', error: expect.objectContaining({ code: 'export_deleted' }) })]);
    await expect(orphanHandle.describe()).rejects.toThrow(ScheduleNotFoundError);

    // The connection needs re-authorization: the run starts and fails at once with that code.
    const thirdConnection = await connectSandboxConnection(app, { displayName: 'Third account' });
    const reauth = await createExport('Needs reauthorization', RIGA_NINE, thirdConnection);
    await app.store.tokens.markNeedsReauthorization(thirdConnection);
    const reauthOutcome = await workflowResult<ScheduledRunOutcome>(await trigger(app.temporal.schedule.getHandle(exportScheduleId(reauth))));
    expect(reauthOutcome).toMatchObject({ outcome: 'started' });
    const failed = await waitForRun(app, reauthOutcome.runId!, { timeoutMs: 60_000 });
    expect(failed).toMatchObject({ status: 'failed', trigger: 'schedule', error: { code: 'needs_reauthorization' } });
  });

  test("changing an export's schedule changes its Temporal Schedule; deleting the export removes it", async () => {
    const exportId = await createExport('Changing', { mode: 'off' });
    const handle = app.temporal.schedule.getHandle(exportScheduleId(exportId));
    await expect(handle.describe()).rejects.toThrow(ScheduleNotFoundError);
    expect(await admin().get(`/v1/exports/${exportId}/schedule`)).toMatchObject({
      status: 200,
      body: { exportId, schedule: { mode: 'off' }, scheduleId: null, nextRunTimes: [] },
    });

    // Invalid schedules change nothing.
    for (const schedule of [
      { mode: 'custom', cron: '0 9 * *', timezone: 'Europe/Riga' },
      { mode: 'custom', cron: '0 9 * * *', timezone: 'Nowhere/Town' },
      { mode: 'custom', cron: '0 9 * * *' },
      { mode: 'sometimes' },
    ]) {
      const res = await admin().put(`/v1/exports/${exportId}/schedule`, { schedule });
      expect(res.status).toBe(400);
    }
    await expect(handle.describe()).rejects.toThrow(ScheduleNotFoundError);

    const put = await admin().put(`/v1/exports/${exportId}/schedule`, { schedule: { mode: 'custom', cron: '30 7 * * 1-5', timezone: 'UTC' } });
    expect(put.status).toBe(200);
    expect(put.body.scheduleId).toBe(exportScheduleId(exportId));
    expect(put.body.nextRunTimes).toEqual((await handle.describe()).info.nextActionTimes.slice(0, 5).map((d) => d.toISOString()));
    expect((await admin().get(`/v1/exports/${exportId}`)).body.schedule).toEqual({ mode: 'custom', cron: '30 7 * * 1-5', timezone: 'UTC' });

    // PATCH of the export goes through the same hook.
    const patched = await admin().patch(`/v1/exports/${exportId}`, { schedule: { mode: 'custom', cron: '0 12 * * *', timezone: 'America/New_York' } });
    expect(patched.status).toBe(200);
    expect((await handle.describe()).spec.timezone).toBe('America/New_York');

    // with-refresh: no schedule of its own; its next runs are the refresh schedule's.
    const withRefresh = await admin().put(`/v1/exports/${exportId}/schedule`, { schedule: { mode: 'with-refresh' } });
    expect(withRefresh.body).toMatchObject({ scheduleId: null, nextRunTimes: (await admin().get('/v1/refresh-schedule')).body.nextRunTimes });
    await expect(handle.describe()).rejects.toThrow(ScheduleNotFoundError);

    await admin().put(`/v1/exports/${exportId}/schedule`, { schedule: RIGA_NINE });
    await waitFor('the schedule to be listed', async () => (await listedSchedules()).includes(exportScheduleId(exportId)));

    expect((await admin().delete(`/v1/exports/${exportId}`)).status).toBe(204);
    await expect(handle.describe()).rejects.toThrow(ScheduleNotFoundError);
    await waitFor('the schedule to leave `temporal schedule list`', async () => !(await listedSchedules()).includes(exportScheduleId(exportId)));
    expect((await admin().get(`/v1/exports/${exportId}/schedule`)).status).toBe(404);
  });

  test('next run times are the Temporal server\'s: a cron in Europe/Riga fires at 09:00 Riga time, whatever the offset', async () => {
    const exportId = await createExport('Riga mornings', { mode: 'off' });
    const put = await admin().put(`/v1/exports/${exportId}/schedule`, { schedule: RIGA_NINE });
    expect(put.status).toBe(200);
    expect(put.body.nextRunTimes).toHaveLength(5);
    const rigaTime = (iso: string) => new Date(iso).toLocaleTimeString('en-GB', { timeZone: 'Europe/Riga', hour: '2-digit', minute: '2-digit' });
    expect(put.body.nextRunTimes.map(rigaTime)).toEqual(Array(5).fill('09:00'));
    const described = await app.temporal.schedule.getHandle(exportScheduleId(exportId)).describe();
    expect(put.body.nextRunTimes).toEqual(described.info.nextActionTimes.slice(0, 5).map((d) => d.toISOString()));
    expect((await admin().get(`/v1/exports/${exportId}/schedule`)).body.nextRunTimes).toEqual(put.body.nextRunTimes);
    // The refresh schedule (06:00 daily in Riga) likewise.
    expect((await admin().get('/v1/refresh-schedule')).body.nextRunTimes.map(rigaTime)).toEqual(Array(5).fill('06:00'));
    await admin().delete(`/v1/exports/${exportId}`);
  });

  test('the OpenAPI document describes the schedule routes', async () => {
    const doc = (await app.as('none').get('/v1/openapi.json')).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/refresh-schedule', '/v1/refresh', '/v1/exports/{id}/schedule']));
    expect(doc.paths['/v1/refresh-schedule'].put.requestBody.content['application/json'].schema.properties.times.maxItems).toBe(4);
    expect(doc.paths['/v1/refresh'].post.responses['202']).toBeDefined();
  });
});
