import net from 'node:net';
import { keyFingerprint } from '../../api/auth';
import { createApiServer } from '../../api/listener';
import { parseConfig } from '../../common/config';
import { createTestApp, type TestApp } from '../helpers/app';
import { rawConnect, requestHead, sleep } from '../helpers/raw-http';

/**
 * What a client may hold of the API: nothing without a key (refused before its body is read),
 * bounded time for headers and bodies, a minimum rate for the streaming import, a cap on
 * connections, and a per-key rate limit. Each attack fails; the legitimate path still works.
 */

const json = { 'content-type': 'application/json' };

describe('a client without a key cannot hold the API', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({ kind: 'sqlite', env: { API_REQUEST_TIMEOUT_SECONDS: '60', API_HEADERS_TIMEOUT_SECONDS: '2' } });
  });
  afterAll(() => app?.close());

  it('answers 401 to a slow body without a key before reading it, and closes the connection', async () => {
    const client = await rawConnect(app.baseUrl);
    await client.write(requestHead('POST', '/v1/segments', { ...json, 'content-length': '10000000' }));
    await client.write('{"name": "a');
    expect(await client.status(2000)).toBe(401);
    expect(await client.closed(2000)).toBe(true);
    expect(client.received()).toMatch(/"code":"unauthorized"/);
    expect(client.received()).toMatch(/connection: close/i);
  });

  it('answers 403 to a contributor on an admin route before reading the body, and closes the connection', async () => {
    const client = await rawConnect(app.baseUrl);
    await client.write(requestHead('POST', '/v1/profiles/import', { 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked', authorization: `Bearer ${app.contributorKey}` }));
    await client.write('5\r\n{"id"\r\n');
    expect(await client.status(2000)).toBe(403);
    expect(await client.closed(2000)).toBe(true);
  });

  it('answers 401 to a body of a wrong key and to an unknown route without reading either', async () => {
    for (const [path, status] of [['/v1/segments', 401], ['/v1/no-such-route', 404]] as const) {
      const client = await rawConnect(app.baseUrl);
      await client.write(requestHead('POST', path, { ...json, 'content-length': '10000000', authorization: 'Bearer not-a-key-of-this-service-0123' }));
      expect(await client.status(2000)).toBe(status);
      expect(await client.closed(2000)).toBe(true);
    }
  });

  it('closes an idle keep-alive connection after API_KEEP_ALIVE_TIMEOUT_SECONDS', async () => {
    const client = await rawConnect(app.baseUrl);
    await client.write(requestHead('GET', '/healthz', { connection: 'keep-alive' }));
    expect(await client.status(2000)).toBe(200);
    expect(await client.closed(4000)).toBe(true);
  });

  it('closes a connection whose headers do not arrive in time', async () => {
    const client = await rawConnect(app.baseUrl);
    await client.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    expect(await client.closed(5000)).toBe(true);
  });

  it('still answers a key holder at once: the legitimate path', async () => {
    const res = await app.as('admin').post('/v1/segments', { name: 'Everyone', rule: { all: [] } });
    expect(res.status).toBe(201);
  });

  it('logs the key fingerprint and role with every request, never the key', async () => {
    const admin = await app.as('admin').get('/v1/segments', { headers: { 'x-request-id': 'log-admin' } });
    const contributor = await app.as('contributor').get('/v1/segments', { headers: { 'x-request-id': 'log-contributor' } });
    const refused = await app.requester('Bearer not-a-key-of-this-service-0123').get('/v1/segments', { headers: { 'x-request-id': 'log-refused' } });
    expect([admin.status, contributor.status, refused.status]).toEqual([200, 200, 401]);
    const line = (id: string) => JSON.parse(app.logLines.find((l) => l.includes(`"requestId":"${id}"`) && l.includes('"msg":"request"'))!);
    expect(line('log-admin')).toMatchObject({ key: keyFingerprint(app.adminKey), role: 'admin', status: 200 });
    expect(line('log-contributor')).toMatchObject({ key: keyFingerprint(app.contributorKey), role: 'contributor' });
    expect(line('log-refused')).toMatchObject({ key: 'refused', status: 401 });
    expect(line('log-refused').role).toBeUndefined();
    for (const l of app.logLines) {
      expect(l).not.toContain(app.adminKey);
      expect(l).not.toContain(app.contributorKey);
    }
  });
});

describe('bodies are held to the request timeout, the streaming import to a minimum rate', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({
      kind: 'sqlite',
      env: { API_REQUEST_TIMEOUT_SECONDS: '1', API_STREAM_MIN_BYTES: '2000', API_STREAM_WINDOW_SECONDS: '1' },
    });
  });
  afterAll(() => app?.close());
  const importOne = () => app.as('admin').request('POST', '/v1/profiles/import', { raw: '{"id":"after-the-cut"}\n', contentType: 'application/x-ndjson' });

  it('cuts a key holder whose JSON body does not arrive within API_REQUEST_TIMEOUT_SECONDS with 408', async () => {
    const client = await rawConnect(app.baseUrl);
    await client.write(requestHead('POST', '/v1/segments', { ...json, 'content-length': '1000', authorization: `Bearer ${app.adminKey}` }));
    await client.write('{"name": "slow');
    const started = Date.now();
    expect(await client.status(4000)).toBe(408);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(client.received()).toMatch(/"code":"request_timeout"/);
    expect(await client.closed(2000)).toBe(true);
    expect((await app.as('admin').get('/v1/segments')).body.items).toEqual([]);
  });

  it('cuts an import that trickles slower than API_STREAM_MIN_BYTES per API_STREAM_WINDOW_SECONDS', async () => {
    const client = await rawConnect(app.baseUrl);
    await client.write(requestHead('POST', '/v1/profiles/import', { 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked', authorization: `Bearer ${app.adminKey}` }));
    const started = Date.now();
    let n = 0;
    while (!(await client.closed(0)) && Date.now() - started < 6000) {
      const line = `${JSON.stringify({ id: `slow-${n++}` })}\n`;
      await client.write(`${Buffer.byteLength(line).toString(16)}\r\n${line}\r\n`);
      await sleep(200);
    }
    expect(await client.closed(1000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408/);
    // The cut import lets go of the store's one import once the batch it had in flight has ended
    // (the 408 may reach the client a moment before): the next one is taken within a second.
    const cut = Date.now();
    let next = await importOne();
    while (next.status === 409 && Date.now() - cut < 1000) {
      await sleep(50);
      next = await importOne();
    }
    expect(next.status).toBe(200);
  });

  it('lets an import stream for longer than the request timeout while it keeps the rate', async () => {
    const client = await rawConnect(app.baseUrl);
    await client.write(requestHead('POST', '/v1/profiles/import', { 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked', authorization: `Bearer ${app.adminKey}` }));
    const started = Date.now();
    let n = 0;
    while (Date.now() - started < 2500) {
      const lines = Array.from({ length: 40 }, () => `${JSON.stringify({ id: `steady-${n++}`, plan: 'basic' })}\n`).join('');
      await client.write(`${Buffer.byteLength(lines).toString(16)}\r\n${lines}\r\n`);
      await sleep(100);
    }
    await client.write('0\r\n\r\n');
    expect(await client.status(5000)).toBe(200);
    await client.closed(500);
    const body = JSON.parse(client.received().split('\r\n\r\n')[1].replace(/^[0-9a-f]+\r\n/, '').split('\r\n')[0]);
    expect(body).toMatchObject({ received: n, upserted: n, rejected: 0 });
    client.destroy();
  });
});

describe('a client that stops reading the answer', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({ kind: 'sqlite', env: { API_IDLE_TIMEOUT_SECONDS: '1' } });
  });
  afterAll(() => app?.close());

  it('is closed after API_IDLE_TIMEOUT_SECONDS once the socket is full, and the API stops streaming', async () => {
    // A run with 300,000 rejects: ~20 MB of NDJSON, more than loopback buffers hold.
    const at = new Date().toISOString();
    await app.store.db.run(
      `INSERT INTO exports (id, name, connection_id, list_id, mapping, sync_mode, max_removal_percent, schedule, created_by_role, created_at, updated_at)
       VALUES ('exp_idle0000001', 'Idle', NULL, '00000000-0000-4000-8000-000000000001', '{"email":"Email"}', 'upsert', 20, '{"mode":"off"}', 'admin', ?, ?)`,
      [at, at],
    );
    await app.store.db.run(
      `INSERT INTO runs (id, export_id, status, trigger, started_at, finished_at, workflow_id, phase, counts) VALUES ('run_idle0000001', 'exp_idle0000001', 'succeeded', 'on-demand', ?, ?, 'wf-idle', 'done', '{}')`,
      [at, at],
    );
    await app.store.db.run(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 299999)
       INSERT INTO run_rejects (run_id, snapshot_seq, profile_id, email, reason) SELECT 'run_idle0000001', i, 'profile-' || i, 'not an email ' || i, 'invalid_email' FROM n`,
    );
    const url = new URL(app.baseUrl);
    const apiSide = new Promise<net.Socket>((resolve) => app.server.once('connection', resolve));
    const socket = net.connect(Number(url.port), url.hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.pause();
    socket.write(requestHead('GET', '/v1/runs/run_idle0000001/rejects', { authorization: `Bearer ${app.adminKey}` }));
    socket.on('error', () => undefined);
    // The API closes its end once the socket is full and nothing moved for a second; however long a
    // loaded machine takes to get there, wait for it (not for a fixed time), then read what arrived.
    const ours = await apiSide;
    const waitedSince = Date.now();
    while (!ours.destroyed && Date.now() - waitedSince < 30_000) await sleep(100);
    expect(ours.destroyed).toBe(true);
    let received = 0;
    let tail = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      tail = (tail + chunk.toString('latin1')).slice(-16);
    });
    const closed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 5000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(true);
      });
      socket.resume();
    });
    expect(closed).toBe(true);
    expect(received).toBeLessThan(15_000_000);
    expect(tail).not.toMatch(/\r\n0\r\n\r\n$/);
    // The API goes on serving others.
    expect((await app.as('admin').get('/v1/segments')).status).toBe(200);
  });
});

describe('the idle timeout of the listener', () => {
  it('never cuts a request while the API itself is still working on the answer', async () => {
    const limits = parseConfig({ NODE_ENV: 'test', API_IDLE_TIMEOUT_SECONDS: '1' }).api;
    const { server } = createApiServer(limits);
    server.on('request', (_req, res) => setTimeout(() => res.end('done after 2.5 s'), 2500));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`);
      expect(await res.text()).toBe('done after 2.5 s');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('connections and requests per key are capped', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await createTestApp({
      kind: 'sqlite',
      env: { API_MAX_CONNECTIONS: '3', API_RATE_LIMIT_PER_SECOND: '2', API_RATE_LIMIT_BURST: '3', API_HEADERS_TIMEOUT_SECONDS: '30' },
    });
  });
  afterAll(() => app?.close());

  it('drops connections beyond API_MAX_CONNECTIONS and serves again once they go', async () => {
    const held = await Promise.all([1, 2, 3].map(() => rawConnect(app.baseUrl)));
    for (const c of held) await c.write('GET /healthz HTTP/1.1\r\n');
    await sleep(100);
    const extra = await rawConnect(app.baseUrl);
    await extra.write(requestHead('GET', '/healthz', {}));
    expect(await extra.closed(2000)).toBe(true);
    expect(extra.received()).toBe('');
    for (const c of held) c.destroy();
    await sleep(200);
    expect((await fetch(`${app.baseUrl}/healthz`)).status).toBe(200);
  });

  it('answers 429 rate_limited with Retry-After past the per-key rate, for that key only', async () => {
    const statuses: number[] = [];
    let limited;
    for (let i = 0; i < 6; i++) {
      const res = await app.as('admin').get('/v1/segments');
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses).toContain(429);
    expect(limited!.body.error.code).toBe('rate_limited');
    const retryAfter = Number(limited!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect((await app.as('contributor').get('/v1/segments')).status).toBe(200);
    await sleep(retryAfter * 1000);
    expect((await app.as('admin').get('/v1/segments')).status).toBe(200);
  });
});
