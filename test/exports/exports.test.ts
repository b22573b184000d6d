import type { ExportHooks } from '../../api/deps';
import { createScheduleExportHooks } from '../../api/routes/schedules';
import type { Export } from '../../store/types';
import { connectSandboxConnection, createTestApp, type TestApp } from '../helpers/app';
import { storeKinds } from '../helpers/stores';
import { addCustomField, addList, exportBody, insertSegment } from './fixtures';

describe.each(storeKinds)('exports (%s)', (kind) => {
  let app: TestApp;
  let connectionId: string;
  let segmentId: string;
  const hookCalls: string[] = [];
  /** The hooks the API has in production (Temporal Schedules kept in step), behind recording ones. */
  let productionHooks: ExportHooks | undefined;

  beforeAll(async () => {
    app = await createTestApp({
      kind,
      exportHooks: {
        onExportSaved: async (exp: Export, change) => {
          hookCalls.push(`${change}:${exp.id}:${exp.connectionId ?? 'null'}`);
          await productionHooks?.onExportSaved?.(exp, change);
        },
        onExportDeleted: async (exp: Export) => {
          hookCalls.push(`deleted:${exp.id}`);
          await productionHooks?.onExportDeleted?.(exp);
        },
      },
    });
    productionHooks = createScheduleExportHooks({ temporal: app.temporal, config: app.config, logger: app.logger });
    connectionId = await connectSandboxConnection(app, { usableBy: 'admins-and-contributors' });
    segmentId = await insertSegment(app);
  });
  afterAll(async () => {
    if (app) {
      // Removing the exports removes their Temporal Schedules from the shared test server.
      for (const exp of (await app.as('admin').get('/v1/exports?limit=500')).body?.items ?? []) await app.as('admin').delete(`/v1/exports/${exp.id}`);
      await app.close();
    }
  });

  const workflowsOf = async (exportId: string) => {
    const byAttribute: string[] = [];
    for await (const wf of app.temporal.workflow.list({ query: `ExportId="${exportId}"` })) byAttribute.push(wf.workflowId);
    const byId: string[] = [];
    for await (const wf of app.temporal.workflow.list()) if (wf.workflowId.includes(exportId)) byId.push(wf.workflowId);
    return [...byAttribute, ...byId];
  };

  it('creates an export with the defaults, answers 201 and starts no workflow', async () => {
    const res = await app.as('admin').post('/v1/exports', exportBody(connectionId, [segmentId]));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'Spring newsletter',
      connectionId,
      listId: '00000000-0000-4000-8000-000000000001',
      mapping: { email: 'EmailAddress', firstName: 'FirstName', lastName: 'LastName' },
      segmentIds: [segmentId],
      syncMode: 'upsert',
      maxRemovalPercent: 20,
      schedule: { mode: 'with-refresh' },
      lastRun: null,
    });
    expect(res.body.id).toMatch(/^exp_/);
    expect(hookCalls).toContain(`created:${res.body.id}:${connectionId}`);

    // Temporal's visibility is eventually consistent: give a wrongly started workflow time to show.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await workflowsOf(res.body.id)).toEqual([]);
    expect(await app.store.db.all('SELECT id FROM runs WHERE export_id = ?', [res.body.id])).toEqual([]);
  });

  it('saves custom fields that exist, a custom schedule, mirror mode, and canonical time zones', async () => {
    const tier = await addCustomField(app, 'Loyalty Tier');
    const segment2 = await insertSegment(app, 'Second');
    const res = await app.as('admin').post(
      '/v1/exports',
      exportBody(connectionId, [segmentId, segment2], {
        mapping: { email: 'EmailAddress', customFields: { [tier]: 'Tier' } },
        syncMode: 'mirror',
        maxRemovalPercent: 5.5,
        schedule: { mode: 'custom', cron: '30  6 1 JAN,JUL MON-FRI', timezone: 'europe/riga' },
      }),
    );
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      mapping: { email: 'EmailAddress', customFields: { [tier]: 'Tier' } },
      segmentIds: [segmentId, segment2],
      syncMode: 'mirror',
      maxRemovalPercent: 5.5,
      schedule: { mode: 'custom', cron: '30 6 1 JAN,JUL MON-FRI', timezone: 'Europe/Riga' },
    });
    const read = await app.as('admin').get(`/v1/exports/${res.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await workflowsOf(res.body.id)).toEqual([]);
  });

  it('lists exports with cursor paging', async () => {
    for (let i = 0; i < 3; i++) expect((await app.as('admin').post('/v1/exports', exportBody(connectionId, [segmentId], { name: `Paged ${i}` }))).status).toBe(201);
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await app
        .as('admin')
        .get(`/v1/exports?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      all.push(...page.body.items.map((e) => e.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    const everything = await app.as('admin').get('/v1/exports?limit=500');
    expect(all).toEqual(everything.body.items.map((e: { id: string }) => e.id));
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBeGreaterThanOrEqual(5);
    const byConnection = await app.as('admin').get(`/v1/exports?connectionId=${connectionId}`);
    expect(byConnection.body.items.every((e: { connectionId: string }) => e.connectionId === connectionId)).toBe(true);
  });

  it('patches an export, replacing mapping, segments and schedule, and checks a new list against Constant Contact', async () => {
    const created = await app.as('admin').post('/v1/exports', exportBody(connectionId, [segmentId]));
    const segment2 = await insertSegment(app, 'Patched in');
    const listId = await addList(app, 'Autumn list');
    const res = await app.as('admin').patch(`/v1/exports/${created.body.id}`, {
      name: 'Autumn newsletter',
      listId,
      segmentIds: [segment2],
      schedule: { mode: 'off' },
      mapping: { email: 'Mail' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'Autumn newsletter', listId, segmentIds: [segment2], schedule: { mode: 'off' }, mapping: { email: 'Mail' } });
    expect(res.body.mapping.firstName).toBeUndefined();
    expect(hookCalls).toContain(`updated:${created.body.id}:${connectionId}`);
    expect((await app.as('admin').get(`/v1/exports/${created.body.id}`)).body).toEqual(res.body);

    const missing = await app.as('admin').patch(`/v1/exports/${created.body.id}`, { listId: '3f1c2b7a-0000-4000-8000-00000000abcd' });
    expect(missing.status).toBe(422);
    expect(missing.body.error.code).toBe('list_not_found');
    expect((await app.as('admin').get(`/v1/exports/${created.body.id}`)).body.listId).toBe(listId);
  });

  it('shows the newest run as lastRun', async () => {
    const created = await app.as('admin').post('/v1/exports', exportBody(connectionId, [segmentId]));
    const insertRun = (id: string, startedAt: string, status: string) =>
      app.store.db.run(
        `INSERT INTO runs (id, export_id, status, trigger, started_at, finished_at, workflow_id, phase, chunks_done, chunks_total, counts)
         VALUES (?, ?, ?, 'on-demand', ?, ?, ?, ?, 2, 4, ?)`,
        [id, created.body.id, status, startedAt, status === 'running' ? null : startedAt, `export-run-${id}`, status === 'running' ? 'uploading' : 'done', JSON.stringify({ segmentProfiles: 10, sent: 9, imported: 9, rejected: 1, duplicates: 0, unsubscribed: 0, removed: 0, constantContactErrors: 0 })],
      );
    await insertRun('run_0000000001aaaaaaaaaaaaaaaa', '2026-01-01T00:00:00.000Z', 'succeeded');
    await insertRun('run_0000000002aaaaaaaaaaaaaaaa', '2026-01-02T00:00:00.000Z', 'running');
    const read = await app.as('admin').get(`/v1/exports/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.body.lastRun).toMatchObject({
      id: 'run_0000000002aaaaaaaaaaaaaaaa',
      exportId: created.body.id,
      status: 'running',
      trigger: 'on-demand',
      workflowId: 'export-run-run_0000000002aaaaaaaaaaaaaaaa',
      progress: { phase: 'uploading', chunksDone: 2, chunksTotal: 4 },
      error: null,
    });
    expect(read.body.lastRun.temporalUiUrl).toContain('export-run-run_0000000002aaaaaaaaaaaaaaaa');
    // The same run as the runs API answers it.
    const run = await app.as('admin').get('/v1/runs/run_0000000002aaaaaaaaaaaaaaaa');
    expect(run.status).toBe(200);
    expect(read.body.lastRun).toEqual(run.body.run ?? run.body);
    const listed = await app.as('admin').get('/v1/exports?limit=500');
    expect(listed.body.items.find((e: { id: string }) => e.id === created.body.id).lastRun.id).toBe('run_0000000002aaaaaaaaaaaaaaaa');
  });

  it('deletes an export softly: gone from the API, its segments released, its runs kept', async () => {
    const created = await app.as('admin').post('/v1/exports', exportBody(connectionId, [segmentId]));
    const id = created.body.id;
    await app.store.db.run(
      `INSERT INTO runs (id, export_id, status, trigger, started_at, workflow_id, phase, counts) VALUES (?, ?, 'succeeded', 'on-demand', ?, ?, 'done', ?)`,
      [`run_${id.slice(4)}`, id, new Date().toISOString(), `wf-${id}`, '{}'],
    );
    const res = await app.as('admin').delete(`/v1/exports/${id}`);
    expect(res.status).toBe(204);
    expect(hookCalls).toContain(`deleted:${id}`);
    expect((await app.as('admin').get(`/v1/exports/${id}`)).status).toBe(404);
    expect((await app.as('admin').delete(`/v1/exports/${id}`)).status).toBe(404);
    expect((await app.as('admin').patch(`/v1/exports/${id}`, { name: 'x' })).status).toBe(404);
    expect((await app.as('admin').get('/v1/exports?limit=500')).body.items.map((e: { id: string }) => e.id)).not.toContain(id);
    expect(await app.store.db.all('SELECT * FROM export_segments WHERE export_id = ?', [id])).toEqual([]);
    expect(await app.store.db.all('SELECT id FROM runs WHERE export_id = ?', [id])).toHaveLength(1);
    const kept = await app.store.exports.get(id, { includeDeleted: true });
    expect(kept?.deletedAt).toBeTruthy();
    // Its connection is no longer "in use" by it.
    expect(await app.store.exports.idsUsingConnection(connectionId)).not.toContain(id);
  });

  it('refuses to remove a connection in use, and detaches its exports on request', async () => {
    const other = await connectSandboxConnection(app, { displayName: 'To be removed', usableBy: 'admins-and-contributors' });
    const a = (await app.as('admin').post('/v1/exports', exportBody(other, [segmentId], { name: 'A' }))).body.id;
    const b = (await app.as('admin').post('/v1/exports', exportBody(other, [segmentId], { name: 'B', syncMode: 'mirror' }))).body.id;
    const deleted = (await app.as('admin').post('/v1/exports', exportBody(other, [segmentId], { name: 'C' }))).body.id;
    expect((await app.as('admin').delete(`/v1/exports/${deleted}`)).status).toBe(204);

    const before = await app.dumpTables({ exclude: ['rate_limits'] });
    const refused = await app.as('admin').delete(`/v1/connections/${other}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('connection_in_use');
    expect(refused.body.error.details).toEqual([{ exportIds: [a, b].sort() }]);
    expect(await app.dumpTables({ exclude: ['rate_limits'] })).toEqual(before);

    const removed = await app.as('admin').delete(`/v1/connections/${other}?detachExports=true`);
    expect(removed.status).toBe(204);
    expect((await app.as('admin').get(`/v1/connections/${other}`)).status).toBe(404);
    expect(await app.store.db.get('SELECT id FROM connections WHERE id = ?', [other])).toBeUndefined();
    expect(hookCalls).toEqual(expect.arrayContaining([`detached:${a}:null`, `detached:${b}:null`]));

    const detached = await app.as('admin').get(`/v1/exports/${b}`);
    expect(detached.status).toBe(200);
    expect(detached.body).toMatchObject({ connectionId: null, name: 'B', syncMode: 'mirror', segmentIds: [segmentId] });
    const listed = (await app.as('admin').get('/v1/exports?limit=500')).body.items.map((e: { id: string }) => e.id);
    expect(listed).toEqual(expect.arrayContaining([a, b]));
    // Contributors lose sight of detached exports: no connection grants them access.
    expect((await app.as('contributor').get(`/v1/exports/${b}`)).status).toBe(404);

    // Changing the list of a detached export needs a connection; other settings can change.
    const noConnection = await app.as('admin').patch(`/v1/exports/${b}`, { listId: '00000000-0000-4000-8000-0000000000ff' });
    expect(noConnection.status).toBe(409);
    expect(noConnection.body.error.code).toBe('export_detached');
    expect((await app.as('admin').patch(`/v1/exports/${b}`, { name: 'B renamed' })).status).toBe(200);
    const reattached = await app.as('admin').patch(`/v1/exports/${b}`, { connectionId });
    expect(reattached.status).toBe(200);
    expect(reattached.body.connectionId).toBe(connectionId);
  });

  it('limits contributors to exports on connections shared with them', async () => {
    const adminOnly = await connectSandboxConnection(app, { displayName: 'Admins only', usableBy: 'admins' });
    const onShared = await app.as('contributor').post('/v1/exports', exportBody(connectionId, [segmentId], { name: 'By a contributor' }));
    expect(onShared.status).toBe(201);
    const onAdminOnly = await app.as('contributor').post('/v1/exports', exportBody(adminOnly, [segmentId]));
    expect(onAdminOnly.status).toBe(404);
    expect(onAdminOnly.body.error.code).toBe('connection_not_found');
    const adminsExport = (await app.as('admin').post('/v1/exports', exportBody(adminOnly, [segmentId], { name: 'Admin only export' }))).body.id;

    const seen = (await app.as('contributor').get('/v1/exports?limit=500')).body.items.map((e: { id: string }) => e.id);
    expect(seen).toContain(onShared.body.id);
    expect(seen).not.toContain(adminsExport);
    expect((await app.as('contributor').get(`/v1/exports/${adminsExport}`)).status).toBe(404);
    expect((await app.as('contributor').patch(`/v1/exports/${onShared.body.id}`, { connectionId: adminOnly })).status).toBe(404);

    // When the admin stops sharing the connection, the contributor loses its exports too.
    const shared = await connectSandboxConnection(app, { displayName: 'Shared for a while', usableBy: 'admins-and-contributors' });
    const mine = (await app.as('contributor').post('/v1/exports', exportBody(shared, [segmentId]))).body.id;
    expect((await app.as('contributor').get(`/v1/exports/${mine}`)).status).toBe(200);
    expect((await app.as('admin').patch(`/v1/connections/${shared}`, { usableBy: 'admins' })).status).toBe(200);
    expect((await app.as('contributor').get(`/v1/exports/${mine}`)).status).toBe(404);
    expect((await app.as('contributor').delete(`/v1/exports/${mine}`)).status).toBe(404);
    expect((await app.as('admin').get(`/v1/exports/${mine}`)).status).toBe(200);
  });

  it('refuses exports on a connection that needs re-authorization', async () => {
    const revoked = await connectSandboxConnection(app, { displayName: 'About to be revoked' });
    const pending = (await app.as('admin').post('/v1/connections', { displayName: 'Never authorized', dataPrivacyConsent: true })).body.id;
    const notYet = await app.as('admin').post('/v1/exports', exportBody(pending, [segmentId]));
    expect(notYet.status).toBe(422);
    expect(notYet.body.error.code).toBe('connection_not_connected');

    await app.store.tokens.markNeedsReauthorization(revoked);
    const res = await app.as('admin').post('/v1/exports', exportBody(revoked, [segmentId]));
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('connection_not_connected');
  });
});
