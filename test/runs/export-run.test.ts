import { DEFAULT_LIST_ID } from '../../sandbox/server';
import { runSearchAttributes } from '../../services/contracts';
import { connectSandboxConnection, createTestApp, type TestApp } from '../helpers/app';
import { temporalCliJson } from '../helpers/temporal';
import { startInProcessWorker, uniqueTaskQueue, type InProcessWorker } from '../helpers/worker';
import {
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
 * The export run end to end on SQLite: the API starts it, an in-process worker runs the workflow
 * against the real Temporal dev server and the real sandbox. Chunks are small (500 contacts) so a
 * few thousand profiles make several imports.
 */

const PROFILES = 3000;

describe('export run (SQLite, in-process worker)', () => {
  let app: TestApp;
  let worker: InProcessWorker;

  beforeAll(async () => {
    app = await createTestApp({
      kind: 'sqlite',
      sandbox: { importMsPerContact: 0, importMinMs: 50 },
      env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('runs'), CC_MAX_CONTACTS_PER_IMPORT: '500', LOG_LEVEL: 'info' },
    });
    worker = await startInProcessWorker({ config: app.config, store: app.store, logger: app.logger });
  });

  afterAll(async () => {
    await worker?.stop();
    await app?.close();
  });

  test('lands every valid profile in the list once, rejects the rest with reasons, and the counts reconcile', async () => {
    await seedProfiles(app.store, PROFILES);
    const { exportId, connectionId } = await setupExport(app);

    const run = await startRunViaApi(app, exportId);
    expect(run).toMatchObject({ exportId, status: 'running', trigger: 'on-demand', progress: { phase: 'validating' }, error: null });
    expect(run.workflowId).toBe(`export-run-${exportId}-${run.id}`);
    expect(run.temporalUiUrl).toBe(`${app.config.temporal.uiUrl}/namespaces/default/workflows/${run.workflowId}`);

    // A second run while this one goes: 409 with the running run's id.
    const second = await app.as('admin').post(`/v1/exports/${exportId}/runs`);
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'run_in_progress', runId: run.id });

    const done = await waitForRun(app, run.id);
    expect(done).toMatchObject({ status: 'succeeded', error: null, progress: { phase: 'done', percent: 100 } });
    expect(done.finishedAt).toEqual(expect.any(String));

    const expected = expectedEmails(PROFILES);
    expect(done.counts).toMatchObject({
      segmentProfiles: PROFILES,
      sent: expected.emails.size,
      imported: expected.emails.size,
      rejected: expected.rejected,
      duplicates: expected.duplicates,
      unsubscribed: 0,
      constantContactErrors: 0,
      removed: 0,
    });
    expectCountsReconcile(done.counts);
    expect(done.progress.chunksDone).toBe(done.progress.chunksTotal);
    expect(done.progress.chunksTotal).toBeGreaterThanOrEqual(Math.ceil(expected.emails.size / 500));

    const members = await listMembers(app);
    const emails = members.map((m) => String(m.email).toLowerCase());
    expect(new Set(emails).size).toBe(emails.length);
    expect(new Set(emails)).toEqual(expected.emails);
    // Names are truncated to 50 characters, not rejected.
    const long = members.find((m) => String(m.email).startsWith(String(fixtureProfile(5).attributes.EmailAddress)));
    expect(long?.firstName).toHaveLength(50);

    // Rejects: NDJSON, one line per profile left out, with the reason.
    const rejects = await app.as('admin').get(`/v1/runs/${run.id}/rejects`);
    expect(rejects.status).toBe(200);
    expect(rejects.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = rejects.text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(lines).toHaveLength(expected.rejected + expected.duplicates);
    const byId = new Map(lines.map((l) => [l.profileId, l]));
    for (let i = 0; i < PROFILES; i++) {
      const f = fixtureProfile(i);
      const reason = { ok: undefined, missing: 'missing_email', invalid: 'invalid_email', 'too-long': 'email_too_long', duplicate: 'duplicate_email' }[f.kind];
      if (f.kind === 'duplicate') {
        // One of the two profiles sharing the email is left out (the later in email order).
        const pair = [byId.get(f.id), byId.get(fixtureProfile(i - 1).id)].filter(Boolean);
        expect(pair).toHaveLength(1);
        expect(pair[0].reason).toBe('duplicate_email');
      } else if (reason) {
        expect(byId.get(f.id)).toMatchObject({ reason });
      }
    }
    expect(lines.find((l) => l.reason === 'missing_email')).toMatchObject({ email: null });
    expect(lines.find((l) => l.reason === 'invalid_email')?.email).toMatch(/^not an email/);

    // The run in the export's list, newest first.
    const listed = await app.as('admin').get(`/v1/exports/${exportId}/runs`);
    expect(listed.status).toBe(200);
    expect(listed.body.items[0]).toMatchObject({ id: run.id, status: 'succeeded' });

    // Operators: search attributes find it; the history holds no email, name or token.
    const found = await temporalCliJson<{ execution: { workflowId: string } }[]>(['workflow', 'list', '--query', `ExportId="${exportId}"`]);
    expect(found.map((w) => w.execution.workflowId)).toContain(run.workflowId);
    const described = await app.temporal.workflow.getHandle(run.workflowId).describe();
    expect(described.typedSearchAttributes.get(runSearchAttributes.connectionId)).toBe(connectionId);
    expect(described.typedSearchAttributes.get(runSearchAttributes.runTrigger)).toBe('on-demand');
    expect(described.typedSearchAttributes.get(runSearchAttributes.runStatus)).toBe('succeeded');

    const history = await historyText(app.temporal, run.workflowId);
    expect(history.text.includes('upload chunk 1/')).toBe(true);
    expect(history.text.includes('Spring newsletter')).toBe(true);
    const lower = history.text.toLowerCase();
    const leaked: string[] = [];
    for (let i = 0; i < PROFILES; i++) {
      const a = fixtureProfile(i).attributes;
      if (typeof a.EmailAddress === 'string' && lower.includes(a.EmailAddress.trim().toLowerCase())) leaked.push(a.EmailAddress);
    }
    for (const name of ['Boris', 'Berzina', 'Freimanis', 'Kalnina']) if (history.text.includes(name)) leaked.push(name);
    for (const secret of app.secrets) if (history.text.includes(secret)) leaked.push('a token');
    expect(leaked).toEqual([]);
    // Nor the service's logs.
    const logs = app.logLines.join('\n').toLowerCase();
    expect(logs).not.toContain(String(fixtureProfile(10).attributes.EmailAddress));

    // The snapshot is dropped at the end; the rejects stay.
    const left = await app.store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM run_snapshot WHERE run_id = ?', [run.id]);
    expect(Number(left?.n)).toBe(0);

    const stats = await sandboxStats(app);
    expect(stats.maxRequestsInOneSecond).toBeLessThanOrEqual(4);
  });
});

describe('a run that cannot start its work', () => {
  test('a detached export answers 409 export_detached; an unknown export 404', async () => {
    // Covered with the API of a fresh app (no worker needed).
    const app = await createTestApp({ kind: 'sqlite', env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('detached') } });
    try {
      const { exportId, connectionId } = await setupExport(app);
      const unknown = await app.as('admin').post('/v1/exports/exp_0000000000000000000000000/runs');
      expect(unknown.status).toBe(404);
      const deleted = await app.as('admin').delete(`/v1/connections/${connectionId}?detachExports=true`);
      expect(deleted.status).toBeLessThan(300);
      const res = await app.as('admin').post(`/v1/exports/${exportId}/runs`);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('export_detached');
      expect((await app.as('admin').get(`/v1/exports/${exportId}/runs`)).body.items).toEqual([]);
    } finally {
      await app.close();
    }
  });

  test('Temporal not answering: 503, and the run is recorded failed (start_failed), so the export can run again', async () => {
    const app = await createTestApp({ kind: 'sqlite', env: { TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_TASK_QUEUE: uniqueTaskQueue('down') } });
    try {
      // Saved straight in the store: saving through the API would also want Temporal (the export's schedule).
      const connectionId = await connectSandboxConnection(app);
      const segment = await app.store.segments.create({ name: 'Everyone', rule: { all: [] } });
      const saved = await app.store.exports.create(
        { name: 'Down', connectionId, listId: DEFAULT_LIST_ID, mapping: { email: 'EmailAddress' }, segmentIds: [segment.id], syncMode: 'upsert', maxRemovalPercent: 20, schedule: { mode: 'off' } },
        { createdByRole: 'admin', now: new Date().toISOString() },
      );
      if (!('id' in saved)) throw new Error('export not saved');
      const exportId = saved.id;
      const res = await app.as('admin').post(`/v1/exports/${exportId}/runs`);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('temporal_unavailable');
      const runs = (await app.as('admin').get(`/v1/exports/${exportId}/runs`)).body.items;
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ status: 'failed', error: { code: 'start_failed' }, progress: { phase: 'done' } });
      expect(await app.store.runs.running(exportId)).toBeUndefined(); // a next start is not refused with 409
    } finally {
      await app.close();
    }
  }, 120_000);
});
