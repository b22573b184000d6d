import { eventIdOf } from '../../services/events';
import { createTestApp, type JsonBody, type TestApp } from '../helpers/app';
import { storeKinds } from '../helpers/stores';
import { exportBody, insertSegment } from '../exports/fixtures';
import { connectSandboxConnection } from '../helpers/app';

/**
 * The webhook routes and their store on both stores: registration rules (http(s) only, no private
 * address unless allowed, a known export), the secret shown once and kept sealed, deliveries and
 * attempts as recorded, deleting.
 */

describe.each(storeKinds)('webhooks API (%s)', (kind) => {
  let app: TestApp;
  const admin = () => app.as('admin');

  beforeAll(async () => {
    app = await createTestApp({ kind });
  });
  afterAll(async () => {
    await app?.close();
  });

  const valid = { url: 'https://93.184.216.34/hooks', events: ['run.failed'] };

  test('registering answers the secret once; reading never shows it, and the store keeps it sealed', async () => {
    const created = await admin().post('/v1/webhooks', { ...valid, events: ['run.failed', 'run.alert', 'run.failed'] });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: expect.stringMatching(/^whk_/), url: valid.url, events: ['run.failed', 'run.alert'], exportId: null, createdAt: expect.any(String), secret: expect.stringMatching(/^whsec_[\w-]{43}$/) });
    const read = await admin().get(`/v1/webhooks/${created.body.id}`);
    expect(read.body).toEqual({ id: created.body.id, url: valid.url, events: ['run.failed', 'run.alert'], exportId: null, createdAt: created.body.createdAt });
    const listed = await admin().get('/v1/webhooks');
    expect(listed.text).not.toContain(created.body.secret);
    const tables = JSON.stringify(await app.dumpTables());
    expect(tables).toContain(created.body.id);
    expect(tables).not.toContain(created.body.secret);
  });

  test.each([
    [{ url: 'ftp://93.184.216.34/hooks', events: ['run.failed'] }, 'body.url'],
    [{ url: 'https://user:password@93.184.216.34/hooks', events: ['run.failed'] }, 'body.url'],
    [{ url: 'http://127.0.0.1:9/hooks', events: ['run.failed'] }, 'body.url'],
    [{ url: 'http://localhost:9/hooks', events: ['run.failed'] }, 'body.url'],
    [{ url: 'http://[::1]:9/hooks', events: ['run.failed'] }, 'body.url'],
    [{ url: 'http://169.254.169.254/latest/meta-data', events: ['run.failed'] }, 'body.url'],
    [{ url: 'https://93.184.216.34/hooks', events: [] }, 'body.events'],
    [{ url: 'https://93.184.216.34/hooks', events: ['run.exploded'] }, 'body.events.0'],
    [{ url: 'https://93.184.216.34/hooks', events: ['run.failed'], secret: 'mine' }, 'body'],
  ])('refuse %j with 400 naming %s, and store nothing', async (body, path) => {
    const before = await app.dumpTables();
    const res = await admin().post('/v1/webhooks', body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.map((d: JsonBody) => d.path.join('.'))).toContain(path);
    expect(await app.dumpTables()).toEqual(before);
  });

  test('an export filter must name an export: 422 export_not_found', async () => {
    const res = await admin().post('/v1/webhooks', { ...valid, exportId: 'exp_00000000000000000000000000' });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('export_not_found');
    const connectionId = await connectSandboxConnection(app);
    const exportId = (await admin().post('/v1/exports', exportBody(connectionId, [await insertSegment(app)]))).body.id;
    expect((await admin().post('/v1/webhooks', { ...valid, exportId })).body.exportId).toBe(exportId);
  });

  test('deliveries list each attempt, newest delivery first, in pages; a delivery ends once', async () => {
    const { id } = (await admin().post('/v1/webhooks', valid)).body;
    const store = app.store;
    const now = new Date().toISOString();
    const deliveries = [];
    for (const n of [1, 2, 3]) {
      const key = `run.failed-run_test${n}`;
      await store.events.record({ id: eventIdOf(key), type: 'run.failed', runId: `run_test${n}`, exportId: null, connectionId: null, payload: '{}', createdAt: now });
      const d = await store.webhooks.ensureDelivery({ webhookId: id, eventId: eventIdOf(key), workflowId: `wf-${n}`, now: `2030-01-0${n}T00:00:00.000Z` });
      // Ensuring it again finds the same delivery.
      expect((await store.webhooks.ensureDelivery({ webhookId: id, eventId: eventIdOf(key), workflowId: 'other', now })).id).toBe(d.id);
      deliveries.push(d);
    }
    await store.webhooks.recordAttempt(deliveries[0].id, { attempt: 1, at: now, statusCode: 500, error: 'the endpoint answered 500', durationMs: 12 }, 'pending');
    await store.webhooks.recordAttempt(deliveries[0].id, { attempt: 2, at: now, statusCode: 200, error: null, durationMs: 8 }, 'delivered');
    await store.webhooks.endDelivery(deliveries[0].id, 'failed', 'too late', now);
    await store.webhooks.endDelivery(deliveries[1].id, 'failed', 'the webhook was deleted', now);

    const first = await admin().get(`/v1/webhooks/${id}/deliveries?limit=2`);
    expect(first.body.items.map((d: JsonBody) => d.runId)).toEqual(['run_test3', 'run_test2']);
    expect(first.body.items[1]).toMatchObject({ status: 'failed', error: 'the webhook was deleted', attempts: [] });
    const second = await admin().get(`/v1/webhooks/${id}/deliveries?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.nextCursor).toBeNull();
    expect(second.body.items).toEqual([
      expect.objectContaining({
        runId: 'run_test1',
        eventType: 'run.failed',
        status: 'delivered',
        error: null,
        attempts: [
          { attempt: 1, at: now, statusCode: 500, error: 'the endpoint answered 500', durationMs: 12 },
          { attempt: 2, at: now, statusCode: 200, error: null, durationMs: 8 },
        ],
      }),
    ]);
  });

  test('deleting a webhook: 204, then 404 everywhere; its secret is forgotten', async () => {
    const { id, secret } = (await admin().post('/v1/webhooks', valid)).body;
    expect((await admin().delete(`/v1/webhooks/${id}`)).status).toBe(204);
    expect((await admin().delete(`/v1/webhooks/${id}`)).status).toBe(404);
    expect((await admin().get(`/v1/webhooks/${id}`)).status).toBe(404);
    expect((await admin().get(`/v1/webhooks/${id}/deliveries`)).status).toBe(404);
    expect((await admin().get('/v1/webhooks')).body.items.map((w: JsonBody) => w.id)).not.toContain(id);
    const row = await app.store.db.get<{ secret: string | null }>('SELECT secret FROM webhooks WHERE id = ?', [id]);
    expect(row?.secret).toBeNull();
    expect(secret).toMatch(/^whsec_/);
  });

  test('the OpenAPI document describes the webhook routes, the signature and the alerts of a run', async () => {
    const doc = (await app.as('none').get('/v1/openapi.json')).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/webhooks', '/v1/webhooks/{id}', '/v1/webhooks/{id}/deliveries', '/v1/exports/{id}/alerts', '/metrics']));
    expect(doc.paths['/v1/webhooks'].post.description).toContain('X-Segment-Export-Signature: t=<unix seconds>,v1=');
    expect(doc.paths['/v1/runs/{id}'].get.responses['200'].content['application/json'].schema.properties.alerts).toBeDefined();
  });
});
