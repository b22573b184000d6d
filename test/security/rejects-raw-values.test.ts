import { connectSandboxConnection, createTestApp, type TestApp } from '../helpers/app';
import { startInProcessWorker, uniqueTaskQueue, type InProcessWorker } from '../helpers/worker';
import { exportBody } from '../exports/fixtures';
import { waitForRun } from '../runs/fixtures';

/**
 * The attack: a contributor points `mapping.email` of an export on a shared connection at an
 * attribute that is not an email, runs it, and reads the values back from the rejects (an
 * invalid email comes back as it was). Only admins read raw values; a contributor gets the
 * profile id and the reason.
 */

const SECRETS = ['ID-1981-0427', 'ID-1975-1130', 'ID-1990-0615'];

describe('rejects of a run, as a contributor and as an admin', () => {
  let app: TestApp;
  let worker: InProcessWorker;
  let runId: string;

  beforeAll(async () => {
    app = await createTestApp({ kind: 'sqlite', sandbox: { importMsPerContact: 0, importMinMs: 10 }, env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('rejects') } });
    worker = await startInProcessWorker({ config: app.config, store: app.store, logger: app.logger });
    const lines = SECRETS.map((secret, i) => JSON.stringify({ id: `person-${i}`, Email: `person${i}@example.com`, NationalId: secret })).join('\n');
    expect((await app.as('admin').post('/v1/profiles/import', undefined, { raw: lines, contentType: 'application/x-ndjson' })).status).toBe(200);
    const segment = await app.as('admin').post('/v1/segments', { name: 'Everyone', rule: { all: [] } });
    await app.as('admin').post(`/v1/segments/${segment.body.id}/refresh`);
    const connectionId = await connectSandboxConnection(app, { usableBy: 'admins-and-contributors' });
    const created = await app.as('contributor').post('/v1/exports', exportBody(connectionId, [segment.body.id], { mapping: { email: 'NationalId' }, schedule: { mode: 'off' } }));
    expect(created.status).toBe(201);
    const started = await app.as('contributor').post(`/v1/exports/${created.body.id}/runs`);
    expect(started.status).toBe(202);
    runId = started.body.run.id;
    expect(await waitForRun(app, runId)).toMatchObject({ status: 'succeeded', counts: { rejected: SECRETS.length } });
  });
  afterAll(async () => {
    await worker?.stop();
    await app?.close();
  });

  const rejects = async (who: 'admin' | 'contributor') => {
    const res = await app.as(who).get(`/v1/runs/${runId}/rejects`);
    expect(res.status).toBe(200);
    const rows = res.text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    return { text: res.text, rows: rows.sort((a, b) => a.profileId.localeCompare(b.profileId)) };
  };

  it('gives a contributor the profile id and the reason, never the value', async () => {
    const { text, rows } = await rejects('contributor');
    expect(rows).toEqual(SECRETS.map((_s, i) => ({ profileId: `person-${i}`, reason: 'invalid_email' })));
    for (const secret of SECRETS) expect(text).not.toContain(secret);
  });

  it('gives an admin the raw values', async () => {
    const { rows } = await rejects('admin');
    expect(rows).toEqual(SECRETS.map((secret, i) => ({ profileId: `person-${i}`, email: secret, reason: 'invalid_email' })));
  });
});
