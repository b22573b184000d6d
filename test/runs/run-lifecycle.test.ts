import { exportRunStartOptions } from '../../services/run-start';
import { newId } from '../../common/ids';
import { createTestApp, connectSandboxConnection, type TestApp } from '../helpers/app';
import { startInProcessWorker, uniqueTaskQueue, type InProcessWorker } from '../helpers/worker';
import { addCustomField } from '../exports/fixtures';
import {
  dayEndingSoon,
  expectCountsReconcile,
  expectedEmails,
  fixtureProfile,
  historyText,
  listMembers,
  sandboxStats,
  seedProfiles,
  setupExport,
  startRunViaApi,
  waitForRun,
} from './fixtures';

/**
 * How a run ends when something happens to it: cancelled, tokens revoked, too many profiles, the
 * daily quota spent; and how it carries on across continue-as-new, with custom fields and
 * unsubscribed contacts. SQLite, in-process worker, one app per configuration.
 */

async function withApp(
  name: string,
  env: Record<string, string>,
  body: (app: TestApp, worker: InProcessWorker) => Promise<void>,
  sandbox: Record<string, unknown> = { importMsPerContact: 0, importMinMs: 20 },
  workerOptions: Pick<Parameters<typeof startInProcessWorker>[0], 'wrapRateLimits'> = {},
): Promise<void> {
  const app = await createTestApp({ kind: 'sqlite', sandbox, env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue(name), LOG_LEVEL: 'info', ...env } });
  let worker: InProcessWorker | undefined;
  try {
    worker = await startInProcessWorker({ config: app.config, store: app.store, logger: app.logger, ...workerOptions });
    await body(app, worker);
  } finally {
    await worker?.stop();
    await app.close();
  }
}

test('a cancelled run ends cancelled and uploads nothing more', async () => {
  await withApp('cancel', { CC_MAX_CONTACTS_PER_IMPORT: '100' }, async (app) => {
    await seedProfiles(app.store, 2000, { awkward: false });
    const { exportId } = await setupExport(app);
    const run = await startRunViaApi(app, exportId);
    await waitForRun(app, run.id, { until: (r) => r.counts.sent >= 300 || r.status !== 'running' });

    const contributor = await app.as('contributor').post(`/v1/runs/${run.id}/cancel`);
    expect(contributor.status).toBe(404); // the connection is not shared with contributors
    const cancel = await app.as('admin').post(`/v1/runs/${run.id}/cancel`);
    expect(cancel.status).toBe(202);
    expect(cancel.body.run.id).toBe(run.id);
    const importsAtCancel = (await sandboxStats(app)).importRequests;

    const ended = await waitForRun(app, run.id, { timeoutMs: 30_000 });
    expect(ended).toMatchObject({ status: 'cancelled', error: { code: 'cancelled' }, progress: { phase: 'done' } });
    // The run ends only once its upload acknowledged the cancellation: from then on no import is posted.
    const imports = (await sandboxStats(app)).importRequests;
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 500));
      expect((await sandboxStats(app)).importRequests).toBe(imports);
    }
    // At most the one upload already under way when the cancellation came was posted after it...
    expect(imports - importsAtCancel).toBeLessThanOrEqual(1);
    // ...and the workflow scheduled no upload once the cancellation was requested.
    const events = (await app.temporal.workflow.getHandle(run.workflowId).fetchHistory()).events ?? [];
    const cancelledAt = events.findIndex((e) => e.workflowExecutionCancelRequestedEventAttributes);
    expect(cancelledAt).toBeGreaterThan(0);
    const uploadsAfter = events.slice(cancelledAt).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'uploadChunk');
    expect(uploadsAfter).toEqual([]);

    // What was posted is counted, and is exactly what reached the list.
    expect(ended.counts.sent).toBeLessThan(2000);
    const posted = await app.store.db.get<{ n: number; contacts: number }>(
      'SELECT COUNT(*) AS n, COALESCE(SUM(contacts), 0) AS contacts FROM run_chunks WHERE run_id = ? AND activity_id IS NOT NULL',
      [run.id],
    );
    expect(Number(posted?.n)).toBe(imports);
    expect((await listMembers(app)).length).toBe(Number(posted?.contacts));
    expect(Number(posted?.contacts)).toBeLessThanOrEqual(ended.counts.sent);

    const again = await app.as('admin').post(`/v1/runs/${run.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('run_not_running');

    // The export can run again afterwards.
    const next = await startRunViaApi(app, exportId);
    expect(next.id).not.toBe(run.id);
    await app.as('admin').post(`/v1/runs/${next.id}/cancel`);
    await waitForRun(app, next.id, { timeoutMs: 30_000 });
  });
});

test('revoked tokens: the run fails within seconds with needs_reauthorization, without a retry storm', async () => {
  await withApp('revoked', {}, async (app) => {
    await seedProfiles(app.store, 200, { awkward: false });
    const { exportId, connectionId } = await setupExport(app);
    const revoked = await app.sandboxControl('POST', '/tokens/revoke');
    expect(revoked.status).toBe(200);
    const before = (await sandboxStats(app)).requests;

    const started = Date.now();
    const run = await startRunViaApi(app, exportId);
    const ended = await waitForRun(app, run.id, { timeoutMs: 20_000 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'needs_reauthorization' } });
    expect(ended.counts.sent).toBe(0);

    const connection = await app.as('admin').get(`/v1/connections/${connectionId}`);
    expect(connection.body.status).toBe('needs-reauthorization');
    const stats = await sandboxStats(app);
    expect(stats.requests - before).toBeLessThanOrEqual(3);
    expect(stats.importRequests).toBe(0);

    // The workflow failed with the code too (red in the UI), and is not retried.
    const failure = await app.temporal.workflow.getHandle(run.workflowId).result().catch((err) => err);
    expect(failure.cause).toMatchObject({ type: 'needs_reauthorization' });

    // A new run fails at once from the connection's status, with no call to Constant Contact.
    const second = await startRunViaApi(app, exportId);
    expect(await waitForRun(app, second.id, { timeoutMs: 20_000 })).toMatchObject({ status: 'failed', error: { code: 'needs_reauthorization' } });
    expect((await sandboxStats(app)).requests).toBe(stats.requests);
  });
});

test('segments larger than the per-export limit fail with segment_too_large before anything is uploaded', async () => {
  await withApp('too-large', { EXPORT_MAX_PROFILES: '50' }, async (app) => {
    await seedProfiles(app.store, 120, { awkward: false });
    const { exportId } = await setupExport(app);
    const run = await startRunViaApi(app, exportId);
    const ended = await waitForRun(app, run.id, { timeoutMs: 20_000 });
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'segment_too_large' } });
    expect(ended.error?.message).toMatch(/50/);
    expect((await sandboxStats(app)).importRequests).toBe(0);
    expect(await listMembers(app)).toEqual([]);
  });
});

test('custom fields reach the list; unsubscribed contacts are counted, not added; the workflow continues as new and carries on', async () => {
  await withApp('custom', { CC_MAX_CONTACTS_PER_IMPORT: '200' }, async (app) => {
    const n = 1500;
    await seedProfiles(app.store, n);
    const tier = await addCustomField(app, 'Tier');
    const unsubscribed = [10, 11, 12, 500, 1400].map((i) => String(fixtureProfile(i).attributes.EmailAddress));
    expect((await app.sandboxControl('POST', '/contacts/unsubscribe', { emails: unsubscribed })).status).toBe(200);
    const { exportId } = await setupExport(app, {
      mapping: { email: 'EmailAddress', firstName: 'FirstName', lastName: 'LastName', customFields: { [tier]: 'Tier' } },
    });

    // Started like the API does, with a budget of 2 chunks per workflow execution.
    const exp = (await app.store.exports.get(exportId))!;
    const runId = newId('run');
    const options = exportRunStartOptions(app.config, exp, { id: runId, trigger: 'on-demand' });
    const created = await app.store.runs.createRunning({ id: runId, exportId, trigger: 'on-demand', workflowId: options.workflowId, startedAt: new Date().toISOString() });
    expect(created.created).toBe(true);
    await app.temporal.workflow.start('exportRun', { ...options, args: [{ runId, exportId, trigger: 'on-demand', chunksPerExecution: 2 }] });

    const ended = await waitForRun(app, runId, { timeoutMs: 60_000 });
    const expected = expectedEmails(n);
    expect(ended).toMatchObject({ status: 'succeeded', error: null });
    expect(ended.counts).toMatchObject({
      segmentProfiles: n,
      sent: expected.emails.size,
      unsubscribed: unsubscribed.length,
      imported: expected.emails.size - unsubscribed.length,
      rejected: expected.rejected,
      duplicates: expected.duplicates,
    });
    expectCountsReconcile(ended.counts);

    const members = await listMembers(app);
    const emails = new Set(members.map((m) => String(m.email).toLowerCase()));
    for (const u of unsubscribed) expect(emails.has(u)).toBe(false);
    expect(emails.size).toBe(expected.emails.size - unsubscribed.length);
    const gold = members.find((m) => m.email === fixtureProfile(6).attributes.EmailAddress);
    expect(Object.values(gold?.customFields ?? {})).toContain('gold');

    const history = await historyText(app.temporal, options.workflowId);
    expect(history.executions).toBeGreaterThanOrEqual(Math.ceil(ended.progress.chunksTotal / 2));
  });
});

test("Constant Contact's daily quota spent: the run waits in phase waiting-for-quota on a durable timer, then resumes and succeeds", async () => {
  // The worker sees a clock at which the UTC day ends 10 s after its first request, so the daily
  // budget resets during the test (the store's budget and the workflow's timer are the real ones).
  await withApp('quota', { CC_RATE_PER_DAY: '1000' }, async (app) => {
    await seedProfiles(app.store, 100, { awkward: false });
    const { exportId } = await setupExport(app);
    // Spend the day's budget of the application key (shared by every process through the store).
    await app.store.db.run('UPDATE rate_limits SET window_count = 1000 WHERE key = ?', [app.config.constantContact.clientId]);
    const before = (await sandboxStats(app)).requests;
    const run = await startRunViaApi(app, exportId);
    const waiting = await waitForRun(app, run.id, { timeoutMs: 20_000, until: (r) => r.progress.phase === 'waiting-for-quota' || r.status !== 'running' });
    expect(waiting).toMatchObject({ status: 'running', progress: { phase: 'waiting-for-quota' } });
    const description = await app.temporal.workflow.getHandle(run.workflowId).describe();
    expect(description.status.name).toBe('RUNNING');
    const details = await app.temporal.workflowService.describeWorkflowExecution({
      namespace: app.config.temporal.namespace,
      execution: { workflowId: run.workflowId },
    });
    expect(JSON.stringify(details.pendingActivities ?? [])).not.toContain('validateRun'); // no activity hammering: a timer waits
    expect((await sandboxStats(app)).requests).toBe(before); // nothing reached Constant Contact while the budget was spent

    const ended = await waitForRun(app, run.id, { timeoutMs: 60_000 });
    expect(ended).toMatchObject({ status: 'succeeded', error: null, counts: { segmentProfiles: 100, sent: 100, imported: 100 } });
    expect((await listMembers(app)).length).toBe(100);
    const history = await historyText(app.temporal, run.workflowId);
    expect(history.text).toContain('daily quota reset');
  }, undefined, { wrapRateLimits: (rateLimits) => dayEndingSoon(rateLimits, 10_000) });
});

test('Constant Contact answering 5xx for longer than CC_UNAVAILABLE_AFTER_SECONDS fails the run with constant_contact_unavailable', async () => {
  await withApp('unavailable', { CC_UNAVAILABLE_AFTER_SECONDS: '4', CC_MAX_CONTACTS_PER_IMPORT: '100' }, async (app) => {
    await seedProfiles(app.store, 1000, { awkward: false });
    const { exportId } = await setupExport(app);
    const run = await startRunViaApi(app, exportId);
    await waitForRun(app, run.id, { until: (r) => r.counts.sent >= 200 || r.status !== 'running' });
    expect((await app.sandboxControl('PUT', '/faults', { errorRate: 1 })).status).toBe(200);
    const failingSince = Date.now();

    const ended = await waitForRun(app, run.id, { timeoutMs: 60_000 });
    expect(ended).toMatchObject({ status: 'failed', error: { code: 'constant_contact_unavailable' } });
    // Bounded: the limit (4 s) and the backoff of one more attempt, not retries for ever.
    expect(Date.now() - failingSince).toBeLessThan(30_000);
    const failure = await app.temporal.workflow.getHandle(run.workflowId).result().catch((err) => err);
    expect(failure.cause).toMatchObject({ type: 'constant_contact_unavailable' });
    const stats = await app.sandboxControl<{ injectedErrors: number }>('GET', '/stats');
    expect(stats.body.injectedErrors).toBeGreaterThan(0);
  });
});

test('a contributor runs exports on connections shared with contributors, and not others', async () => {
  await withApp('roles', {}, async (app) => {
    await seedProfiles(app.store, 20, { awkward: false });
    const shared = await connectSandboxConnection(app, { usableBy: 'admins-and-contributors', displayName: 'Shared' });
    const { exportId } = await setupExport(app, { connectionId: shared });
    const { exportId: privateExport } = await setupExport(app);

    expect((await app.as('contributor').post(`/v1/exports/${privateExport}/runs`)).status).toBe(404);
    expect((await app.as('none').post(`/v1/exports/${exportId}/runs`)).status).toBe(401);
    const res = await app.as('contributor').post(`/v1/exports/${exportId}/runs`);
    expect(res.status).toBe(202);
    const ended = await waitForRun(app, res.body.run.id, { timeoutMs: 30_000 });
    expect(ended.status).toBe('succeeded');
    expect((await app.as('contributor').get(`/v1/runs/${ended.id}`)).status).toBe(200);
    expect((await app.as('contributor').get(`/v1/exports/${exportId}/runs`)).body.items).toHaveLength(1);
    expect((await app.as('contributor').get(`/v1/exports/${privateExport}/runs`)).status).toBe(404);
    expect((await app.as('admin').get('/v1/runs/not-a-run')).status).toBe(400);
    expect((await app.as('admin').get('/v1/runs/run_0000000000000000000000000')).status).toBe(404);
  });
});
