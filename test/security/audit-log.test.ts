import type { Client } from '@temporalio/client';
import { keyFingerprint } from '../../api/auth';
import { createScheduleExportHooks } from '../../api/routes/schedules';
import { parseConfig } from '../../common/config';
import { connectSandboxConnection, createTestApp, type TestApp } from '../helpers/app';
import { storeKinds } from '../helpers/stores';
import { uniqueTaskQueue } from '../helpers/worker';
import { exportBody } from '../exports/fixtures';

/**
 * The audit log: every change by an admin or a contributor, with who (role and key fingerprint),
 * what (action, resource, a summary without values), when and the request id; GET /v1/audit
 * (admins, paged, newest first). Nothing secret and no profile value is in it.
 */
describe.each(storeKinds)('audit log (%s)', (kind) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({ kind, env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('audit') } });
  });
  afterAll(() => app?.close());

  const PROFILE_VALUES = ['ilze.kalnina@example.com', 'Ilze', 'secret-note-4711'];

  it('records each change with who, what, when and the request id, newest first, and nothing secret', async () => {
    const admin = app.as('admin');
    const contributor = app.as('contributor');
    const rid = (id: string) => ({ headers: { 'x-request-id': id } });
    const lines = JSON.stringify({ id: 'ilze', Email: PROFILE_VALUES[0], FirstName: PROFILE_VALUES[1], Note: PROFILE_VALUES[2] });
    expect((await admin.post('/v1/profiles/import', undefined, { raw: lines, contentType: 'application/x-ndjson', ...rid('r-import') })).status).toBe(200);
    const segment = await admin.post('/v1/segments', { name: 'Everyone', rule: { all: [] } }, rid('r-segment'));
    const connectionId = await connectSandboxConnection(app, { usableBy: 'admins-and-contributors' });
    const created = await contributor.post('/v1/exports', exportBody(connectionId, [segment.body.id], { schedule: { mode: 'off' } }), rid('r-export'));
    expect(created.status).toBe(201);
    expect((await contributor.patch(`/v1/exports/${created.body.id}`, { name: 'Renamed' }, rid('r-patch'))).status).toBe(200);
    // Refused changes are not changes.
    expect((await contributor.patch(`/v1/exports/${created.body.id}`, { syncMode: 'mirror' })).status).toBe(403);
    const run = await contributor.post(`/v1/exports/${created.body.id}/runs`, undefined, rid('r-run'));
    expect(run.status).toBe(202);
    expect((await contributor.post(`/v1/runs/${run.body.run.id}/cancel`, undefined, rid('r-cancel'))).status).toBe(202);
    expect((await admin.delete('/v1/profiles/ilze', rid('r-delete'))).status).toBe(204);

    const res = await admin.get('/v1/audit?limit=500');
    expect(res.status).toBe(200);
    const entries = res.body.items as { at: string; action: string; requestId: string; actor: { role: string; key: string }; resourceType: string; resourceId: string | null; summary: Record<string, unknown> }[];
    const adminKey = keyFingerprint(app.adminKey);
    const contributorKey = keyFingerprint(app.contributorKey);
    expect(entries.map((e) => e.action)).toEqual([
      'profile.delete',
      'run.cancel',
      'run.start',
      'export.update',
      'export.create',
      'connection.authorize',
      'connection.create',
      'segment.create',
      'profiles.import',
    ]);
    const by = (action: string) => entries.find((e) => e.action === action)!;
    expect(by('profiles.import')).toMatchObject({ requestId: 'r-import', actor: { role: 'admin', key: adminKey }, resourceType: 'profiles', resourceId: null, summary: { received: 1, upserted: 1, rejected: 0 } });
    expect(by('connection.create')).toMatchObject({ actor: { role: 'admin', key: adminKey }, resourceType: 'connection', resourceId: connectionId });
    expect(by('connection.authorize')).toMatchObject({ actor: { role: 'admin', key: adminKey }, resourceId: connectionId });
    expect(by('export.create')).toMatchObject({ requestId: 'r-export', actor: { role: 'contributor', key: contributorKey }, resourceType: 'export', resourceId: created.body.id });
    expect(by('export.create').summary.fields).toEqual(expect.arrayContaining(['connectionId', 'listId', 'mapping', 'name', 'segmentIds']));
    expect(by('export.update')).toMatchObject({ requestId: 'r-patch', summary: { fields: ['name'] } });
    expect(by('run.start')).toMatchObject({ requestId: 'r-run', resourceType: 'run', resourceId: run.body.run.id, summary: { exportId: created.body.id } });
    expect(by('run.cancel')).toMatchObject({ requestId: 'r-cancel', actor: { role: 'contributor' }, resourceId: run.body.run.id });
    expect(by('profile.delete')).toMatchObject({ requestId: 'r-delete', resourceType: 'profile', resourceId: 'ilze' });
    for (const e of entries) expect(Date.parse(e.at)).not.toBeNaN();

    const everything = JSON.stringify(await app.store.db.all('SELECT * FROM audit_log'));
    for (const value of [...PROFILE_VALUES, 'Renamed', app.adminKey, app.contributorKey, ...app.secrets]) expect(everything).not.toContain(value);
  });

  it('pages newest first with limit and cursor, and only admins read it', async () => {
    const all = (await app.as('admin').get('/v1/audit?limit=500')).body.items.map((e: { id: string }) => e.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await app.as('admin').get(`/v1/audit?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.items.map((e) => e.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all);
    expect((await app.as('contributor').get('/v1/audit')).status).toBe(403);
    expect((await app.as('none').get('/v1/audit')).status).toBe(401);
  });
});

describe('audit log when a later step fails after the change was saved', () => {
  let app: TestApp;
  beforeAll(async () => {
    // Exports keep their Temporal Schedule in step through hooks; this Temporal client fails every call.
    const temporalDown = new Proxy({}, { get: () => { throw new Error('Temporal does not answer'); } }) as Client;
    app = await createTestApp({ kind: 'sqlite', exportHooks: createScheduleExportHooks({ temporal: temporalDown, config: parseConfig({ NODE_ENV: 'test' }) }) });
  });
  afterAll(() => app?.close());

  it('records an export saved before its schedule could not follow (503 schedule_not_synced)', async () => {
    const connectionId = await connectSandboxConnection(app);
    const segment = await app.as('admin').post('/v1/segments', { name: 'Everyone', rule: { all: [] } });
    const res = await app.as('admin').post('/v1/exports', exportBody(connectionId, [segment.body.id], { schedule: { mode: 'custom', cron: '0 6 * * *', timezone: 'UTC' } }));
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('schedule_not_synced');
    const exportId = res.body.error.details[0].exportId;
    expect(await app.store.exports.get(exportId)).toBeDefined();
    const audit = await app.as('admin').get('/v1/audit?limit=1');
    expect(audit.body.items[0]).toMatchObject({ action: 'export.create', resourceId: exportId, actor: { role: 'admin' } });
  });
});
