import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runEnded, runStarted } from '../../services/events';
import { verifySignature } from '../../services/webhooks/signature';
import { connectSandboxConnection, createTestApp, type JsonBody, type TestApp } from '../helpers/app';
import { startInProcessWorker, uniqueTaskQueue, type InProcessWorker } from '../helpers/worker';
import { createSandboxList, eventually } from '../mirror/helpers';
import { startRunViaApi, waitForRun } from '../runs/fixtures';

/**
 * Webhooks end to end: runs through the API and an in-process worker, events received by an HTTP
 * server in this test, each signature verified. A receiver that answers 500 twice gets the event a
 * third time; a receiver that is down changes nothing about the run. Alerts come as run.alert.
 */

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  json: JsonBody;
}

/** An HTTP endpoint that keeps what it receives and answers 500 to the first `failFirst[type]` deliveries of a type. */
async function startReceiver() {
  const received: Received[] = [];
  const failFirst: Record<string, number> = {};
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const json = JSON.parse(body);
      received.push({ headers: req.headers, body, json });
      if ((failFirst[json.type] ?? 0) > 0) {
        failFirst[json.type]--;
        res.writeHead(500).end('not now');
        return;
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/segment-export`,
    received,
    failFirst,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A URL on loopback where nothing listens. */
async function deadUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/down`;
}

const GOOD = ['Anna Abola', 'Boris Berzins', 'Carla Celma', 'Dmitri Dumpis', 'Elena Egle', 'Farid Freimanis', 'Greta Gaile', 'Hugo Hermanis'];

describe('webhooks (SQLite, in-process worker)', () => {
  let app: TestApp;
  let worker: InProcessWorker;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let secret: string;
  let webhookId: string;
  let downWebhookId: string;
  let connectionId: string;
  let succeededRunId: string;
  const emails: string[] = [];
  const admin = () => app.as('admin');

  async function profiles(group: string, n: number, badEvery = 0): Promise<string> {
    const lines = [];
    for (let i = 0; i < n; i++) {
      const [first, last] = GOOD[i % GOOD.length].split(' ');
      const email = `${first}.${last}.${group}${i}@example.com`.toLowerCase();
      emails.push(email);
      lines.push(JSON.stringify({ id: `${group}-${i}`, Group: group, Email: badEvery && i % 10 < badEvery ? `not an email ${i}` : email, First: first, Last: last }));
    }
    expect((await admin().post('/v1/profiles/import', undefined, { raw: lines.join('\n'), contentType: 'application/x-ndjson' })).status).toBe(200);
    const segment = await admin().post('/v1/segments', { name: `Group ${group}`, rule: { attribute: 'Group', op: 'eq', value: group } });
    expect((await admin().post(`/v1/segments/${segment.body.id}/refresh`)).body.memberCount).toBe(n);
    return segment.body.id;
  }

  async function exportOf(segmentId: string, listId: string, extra: Record<string, unknown> = {}): Promise<string> {
    const res = await admin().post('/v1/exports', {
      name: `Export ${segmentId}`,
      connectionId,
      listId,
      mapping: { email: 'Email', firstName: 'First', lastName: 'Last' },
      segmentIds: [segmentId],
      schedule: { mode: 'off' },
      ...extra,
    });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  const eventsOf = (runId: string) => receiver.received.filter((r) => r.json.runId === runId);
  const typesOf = (runId: string) => [...new Set(eventsOf(runId).map((r) => r.json.type))].sort();

  beforeAll(async () => {
    app = await createTestApp({
      kind: 'sqlite',
      sandbox: { importMsPerContact: 0, importMinMs: 20 },
      env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('webhooks'), WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_INITIAL_SECONDS: '0.2', EXPORT_MAX_PROFILES: '50' },
    });
    worker = await startInProcessWorker({ config: app.config, store: app.store, logger: app.logger });
    receiver = await startReceiver();
    connectionId = await connectSandboxConnection(app);
    const created = await admin().post('/v1/webhooks', {
      url: receiver.url,
      events: ['run.started', 'run.succeeded', 'run.failed', 'run.cancelled', 'run.skipped', 'run.awaiting_approval', 'run.alert', 'connection.needs_reauthorization'],
    });
    expect(created.status).toBe(201);
    ({ id: webhookId, secret } = created.body);
    const down = await admin().post('/v1/webhooks', { url: await deadUrl(), events: ['run.started', 'run.succeeded'] });
    expect(down.status).toBe(201);
    downWebhookId = down.body.id;
  });

  afterAll(async () => {
    await worker?.stop();
    await receiver?.close();
    await app?.close();
  });

  test('a succeeded run: run.started and run.succeeded arrive signed; the endpoint answered 500 twice and got it the third time; recording them again delivers nothing more', async () => {
    const listId = await createSandboxList(app, 'Newsletter');
    const exportId = await exportOf(await profiles('good', 20), listId);
    receiver.failFirst['run.succeeded'] = 2;
    const run = await startRunViaApi(app, exportId);
    succeededRunId = run.id;
    const done = await waitForRun(app, run.id);
    expect(done).toMatchObject({ status: 'succeeded', alerts: [] });

    await eventually(async () => expect(eventsOf(run.id).filter((r) => r.json.type === 'run.succeeded')).toHaveLength(3));
    for (const r of eventsOf(run.id)) {
      expect(verifySignature(r.headers['x-segment-export-signature'] as string, r.body, secret)).toBe(true);
      expect(verifySignature(r.headers['x-segment-export-signature'] as string, r.body, `${secret}0`)).toBe(false);
    }
    const tries = eventsOf(run.id).filter((r) => r.json.type === 'run.succeeded');
    expect(new Set(tries.map((r) => r.body)).size).toBe(1); // the same event each time
    expect(new Set(tries.map((r) => r.headers['x-segment-export-event-id'])).size).toBe(1);
    expect(tries[0].json).toEqual({
      id: expect.stringMatching(/^evt_/),
      type: 'run.succeeded',
      createdAt: done.finishedAt,
      runId: run.id,
      exportId,
      connectionId,
      status: 'succeeded',
      trigger: 'on-demand',
      phase: 'done',
      startedAt: done.startedAt,
      finishedAt: done.finishedAt,
      counts: done.counts,
      errorCode: null,
      temporalUiUrl: done.temporalUiUrl,
    });
    expect(typesOf(run.id)).toEqual(['run.started', 'run.succeeded']);

    // The deliveries record every attempt: 500, 500, then 204.
    const deliveries = await admin().get(`/v1/webhooks/${webhookId}/deliveries`);
    expect(deliveries.status).toBe(200);
    const succeeded = deliveries.body.items.find((d: JsonBody) => d.runId === run.id && d.eventType === 'run.succeeded');
    expect(succeeded).toMatchObject({ status: 'delivered', error: null, exportId, temporalWorkflowId: expect.stringContaining(webhookId) });
    expect(succeeded.attempts.map((a: JsonBody) => [a.attempt, a.statusCode])).toEqual([[1, 500], [2, 500], [3, 204]]);
    expect(succeeded.attempts.every((a: JsonBody) => typeof a.at === 'string' && a.durationMs >= 0)).toBe(true);

    // Recording the end again (a finalize retried after a crash) delivers nothing more.
    const count = receiver.received.length;
    await runEnded({ config: app.config, store: app.store, temporal: app.temporal, logger: app.logger }, await app.store.runs.get(run.id));
    await runStarted({ config: app.config, store: app.store, temporal: app.temporal, logger: app.logger }, (await app.store.runs.get(run.id))!);
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.received.length).toBe(count);
    const again = await admin().get(`/v1/webhooks/${webhookId}/deliveries`);
    expect(again.body.items.filter((d: JsonBody) => d.runId === run.id).map((d: JsonBody) => d.eventType).sort()).toEqual(['run.started', 'run.succeeded']);
  });

  test('a receiver that is down changes nothing about the run; its deliveries stay pending, retried, with no answer', async () => {
    const runId = succeededRunId;
    expect((await app.store.runs.get(runId))?.status).toBe('succeeded');
    const down = await eventually(async () => {
      const res = await admin().get(`/v1/webhooks/${downWebhookId}/deliveries`);
      const d = res.body.items.find((x: JsonBody) => x.runId === runId && x.eventType === 'run.succeeded');
      expect(d?.attempts.length).toBeGreaterThanOrEqual(2);
      return d;
    });
    expect(down.status).toBe('pending');
    expect(down.attempts[0]).toMatchObject({ statusCode: null, error: 'no answer (ECONNREFUSED)' });
  });

  test('a failed run: run.failed with its error code, only to the webhooks of that export when one filters', async () => {
    const listId = await createSandboxList(app, 'Too big');
    const exportId = await exportOf(await profiles('big', 60), listId);
    const filtered = await admin().post('/v1/webhooks', { url: receiver.url, events: ['run.failed', 'run.succeeded'], exportId });
    expect(filtered.status).toBe(201);
    const run = await startRunViaApi(app, exportId);
    const done = await waitForRun(app, run.id);
    expect(done).toMatchObject({ status: 'failed', error: { code: 'segment_too_large' } });

    await eventually(async () => expect(eventsOf(run.id).filter((r) => r.json.type === 'run.failed')).toHaveLength(2));
    const failed = eventsOf(run.id).filter((r) => r.json.type === 'run.failed');
    expect(failed[0].json).toMatchObject({ runId: run.id, exportId, status: 'failed', errorCode: 'segment_too_large' });
    expect(failed[0].body).toBe(failed[1].body);
    // Each webhook signs with its own secret.
    const signedWith = failed.map((r) => [secret, filtered.body.secret].filter((s) => verifySignature(r.headers['x-segment-export-signature'] as string, r.body, s)));
    expect(signedWith.map((s) => s.length)).toEqual([1, 1]);
    expect(new Set(signedWith.flat()).size).toBe(2);
    const other = await admin().get(`/v1/webhooks/${filtered.body.id}/deliveries`);
    expect(other.body.items.map((d: JsonBody) => [d.runId, d.eventType])).toEqual([[run.id, 'run.failed']]);
  });

  test('a run awaiting approval: run.awaiting_approval; with 60% rejects it ends with run.alert, and the alert shows on the run', async () => {
    const listId = await createSandboxList(app, 'Mirrored');
    const first = await startRunViaApi(app, await exportOf(await profiles('kept', 8), listId));
    expect((await waitForRun(app, first.id)).alerts).toEqual([]);
    const exportId = await exportOf(await profiles('bad', 10, 6), listId, { syncMode: 'mirror', maxRemovalPercent: 10 });
    const run = await startRunViaApi(app, exportId);
    await waitForRun(app, run.id, { until: (r) => r.progress.phase === 'awaiting-approval' });
    await eventually(async () => expect(typesOf(run.id)).toEqual(['run.awaiting_approval', 'run.started']));
    const waiting = eventsOf(run.id).find((r) => r.json.type === 'run.awaiting_approval')!;
    expect(waiting.json).toMatchObject({ status: 'running', phase: 'awaiting-approval', counts: { plannedRemovals: 8 } });
    expect(verifySignature(waiting.headers['x-segment-export-signature'] as string, waiting.body, secret)).toBe(true);

    expect((await admin().post(`/v1/runs/${run.id}/removals`, { decision: 'reject' })).status).toBe(200);
    const done = await waitForRun(app, run.id);
    expect(done).toMatchObject({ status: 'succeeded', counts: { segmentProfiles: 10, rejected: 6 } });
    expect(done.alerts).toEqual([
      { reason: 'rejected_share', message: expect.stringContaining('60%'), threshold: 50, value: 60, figures: { rejected: 6, suppressed: 0, segmentProfiles: 10 } },
    ]);
    await eventually(async () => expect(typesOf(run.id)).toEqual(['run.alert', 'run.awaiting_approval', 'run.started', 'run.succeeded']));
    const alert = eventsOf(run.id).find((r) => r.json.type === 'run.alert')!;
    expect(alert.json).toMatchObject({ runId: run.id, exportId, status: 'succeeded', alert: done.alerts[0] });
    expect(verifySignature(alert.headers['x-segment-export-signature'] as string, alert.body, secret)).toBe(true);
    // The runs within every threshold raised none.
    expect(receiver.received.filter((r) => r.json.type === 'run.alert').map((r) => r.json.runId)).toEqual([run.id]);
    const listed = await admin().get(`/v1/exports/${exportId}/runs`);
    expect(listed.body.items[0].alerts).toEqual(done.alerts);
  });

  test('a refresh while a run goes records a skipped run (run.skipped); cancelling the run sends run.cancelled', async () => {
    const exportId = await exportOf(await profiles('slow', 10), await createSandboxList(app, 'Slow'), { schedule: { mode: 'with-refresh' } });
    expect((await app.sandboxControl('PUT', '/faults', { importMsPerContact: 2000 })).status).toBe(200);
    try {
      const run = await startRunViaApi(app, exportId);
      await waitForRun(app, run.id, { until: (r) => r.progress.phase === 'waiting-for-import' || r.status !== 'running' });
      expect((await admin().post('/v1/refresh')).status).toBe(202);
      const skipped = await eventually(async () => {
        const runs = await admin().get(`/v1/exports/${exportId}/runs`);
        const found = runs.body.items.find((r: JsonBody) => r.status === 'skipped');
        expect(found).toMatchObject({ trigger: 'refresh', error: { code: 'run_in_progress' } });
        return found;
      });
      await eventually(async () => expect(typesOf(skipped.id)).toEqual(['run.skipped']));
      expect(eventsOf(skipped.id)[0].json).toMatchObject({ runId: skipped.id, exportId, status: 'skipped', trigger: 'refresh', errorCode: 'run_in_progress' });

      expect((await admin().post(`/v1/runs/${run.id}/cancel`)).status).toBe(202);
      expect(await waitForRun(app, run.id)).toMatchObject({ status: 'cancelled', alerts: [] });
      await eventually(async () => expect(typesOf(run.id)).toEqual(['run.cancelled', 'run.started']));
      const cancelled = eventsOf(run.id).find((r) => r.json.type === 'run.cancelled')!;
      expect(cancelled.json).toMatchObject({ status: 'cancelled', errorCode: 'cancelled' });
      expect(verifySignature(cancelled.headers['x-segment-export-signature'] as string, cancelled.body, secret)).toBe(true);
    } finally {
      await app.sandboxControl('PUT', '/faults', { importMsPerContact: 0 });
    }
  });

  test('a connection whose tokens stop working: run.failed and connection.needs_reauthorization', async () => {
    const exportId = (await app.store.exports.list({ limit: 1 })).items[0].id;
    expect((await app.sandboxControl('POST', '/tokens/revoke')).status).toBe(200);
    // The next call answers 401; the refresh that follows is refused (invalid_grant).
    const run = await startRunViaApi(app, exportId);
    const done = await waitForRun(app, run.id);
    expect(done).toMatchObject({ status: 'failed', error: { code: 'needs_reauthorization' } });
    await eventually(async () => expect(receiver.received.filter((r) => r.json.type === 'connection.needs_reauthorization')).toHaveLength(1));
    const event = receiver.received.find((r) => r.json.type === 'connection.needs_reauthorization')!;
    expect(event.json).toEqual({ id: expect.stringMatching(/^evt_/), type: 'connection.needs_reauthorization', createdAt: expect.any(String), connectionId, status: 'needs-reauthorization' });
    await eventually(async () => expect(eventsOf(run.id).map((r) => r.json.type)).toContain('run.failed'));
    expect(eventsOf(run.id).find((r) => r.json.type === 'run.failed')!.json.errorCode).toBe('needs_reauthorization');
  });

  test('no email, name or token in any webhook body or log line', () => {
    const bodies = receiver.received.map((r) => r.body).join('\n');
    expect(receiver.received.length).toBeGreaterThan(8);
    const logs = app.logLines.join('\n');
    for (const text of [bodies, logs]) {
      const lower = text.toLowerCase();
      expect(emails.filter((e) => lower.includes(e))).toEqual([]);
      expect([...app.secrets].filter((s) => text.includes(s))).toEqual([]);
      expect(text).not.toContain(secret);
      expect(text).not.toMatch(/@example\.com/i);
    }
    for (const name of GOOD.flatMap((n) => n.split(' '))) expect(bodies).not.toContain(name);
  });
});
