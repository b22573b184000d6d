import { connectSandboxConnection, createTestApp, type TestApp } from '../helpers/app';
import { exportBody, insertSegment } from '../exports/fixtures';

/**
 * Mirror mode and a removal guard above the default are admin decisions: a contributor cannot
 * switch an export on a shared connection to mirror mode with maxRemovalPercent 100 and so empty
 * the list of a shared account in one run. What an admin decided stays, whoever edits the export.
 */
describe('the removal guard of contributors', () => {
  let app: TestApp;
  let connectionId: string;
  let segmentId: string;
  beforeAll(async () => {
    app = await createTestApp({ kind: 'sqlite' });
    connectionId = await connectSandboxConnection(app, { usableBy: 'admins-and-contributors' });
    segmentId = await insertSegment(app);
  });
  afterAll(() => app?.close());

  const exportsStored = async () => (await app.store.db.all('SELECT id, sync_mode, max_removal_percent FROM exports ORDER BY id')).length;

  it('refuses a contributor creating a mirror export or a guard above the default, naming the field, and stores nothing', async () => {
    const before = await exportsStored();
    const mirror = await app.as('contributor').post('/v1/exports', exportBody(connectionId, [segmentId], { syncMode: 'mirror', maxRemovalPercent: 100 }));
    expect(mirror.status).toBe(403);
    expect(mirror.body.error).toMatchObject({ code: 'forbidden', details: [{ path: ['body', 'syncMode'] }] });
    expect(mirror.body.error.message).toMatch(/syncMode|mirror/);
    const guard = await app.as('contributor').post('/v1/exports', exportBody(connectionId, [segmentId], { maxRemovalPercent: 21 }));
    expect(guard.status).toBe(403);
    expect(guard.body.error.details).toEqual([expect.objectContaining({ path: ['body', 'maxRemovalPercent'] })]);
    expect(await exportsStored()).toBe(before);
  });

  it('refuses a contributor switching an export to mirror with 100 % and leaves it as it was', async () => {
    const created = await app.as('contributor').post('/v1/exports', exportBody(connectionId, [segmentId]));
    expect(created.status).toBe(201);
    for (const patch of [{ syncMode: 'mirror', maxRemovalPercent: 100 }, { syncMode: 'mirror' }, { maxRemovalPercent: 100 }]) {
      const res = await app.as('contributor').patch(`/v1/exports/${created.body.id}`, patch);
      expect([patch, res.status, res.body.error.code]).toEqual([patch, 403, 'forbidden']);
    }
    const after = await app.as('contributor').get(`/v1/exports/${created.body.id}`);
    expect(after.body).toMatchObject({ syncMode: 'upsert', maxRemovalPercent: 20 });
  });

  it('lets a contributor lower the guard, and edit an export an admin put in mirror mode without undoing it', async () => {
    const lower = await app.as('contributor').post('/v1/exports', exportBody(connectionId, [segmentId], { maxRemovalPercent: 5 }));
    expect(lower.status).toBe(201);
    const admins = await app.as('admin').post('/v1/exports', exportBody(connectionId, [segmentId], { syncMode: 'mirror', maxRemovalPercent: 60 }));
    expect(admins.status).toBe(201);
    const renamed = await app.as('contributor').patch(`/v1/exports/${admins.body.id}`, { name: 'Renamed', syncMode: 'mirror', maxRemovalPercent: 60 });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Renamed', syncMode: 'mirror', maxRemovalPercent: 60 });
    const raised = await app.as('contributor').patch(`/v1/exports/${admins.body.id}`, { maxRemovalPercent: 80 });
    expect(raised.status).toBe(403);
    const admin = await app.as('admin').patch(`/v1/exports/${lower.body.id}`, { syncMode: 'mirror', maxRemovalPercent: 100 });
    expect(admin.status).toBe(200);
  });
});
