import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConstantContactClient } from '../../constant-contact/client';
import { errorFromResponse, parseErrorBody, retryAfterMs, scrub } from '../../constant-contact/errors';
import { ConstantContactError } from '../../constant-contact/types';
import { DEFAULT_LIST_ID } from '../../sandbox/server';
import { createTestStore, storeKinds, type TestStore } from '../helpers/stores';
import {
  caught,
  ccConfig,
  followAuthorize,
  insertConnection,
  makeClient,
  type RunningSandbox,
  useConnectedClient,
} from './helpers';

/** A JWT-shaped access token that expires in an hour (for the stub server, which does not check it). */
function fakeAccessToken(): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none' })}.${b64({ exp: Math.floor(Date.now() / 1000) + 3600 })}.sig`;
}

describe('error classification', () => {
  const ctx = { what: 'Constant Contact GET /x' };

  it('reads both error body shapes and the OAuth one', () => {
    expect(parseErrorBody('[{"error_key":"list_not_found","error_message":"List 1 does not exist."}]')).toEqual({
      key: 'list_not_found',
      message: 'List 1 does not exist.',
    });
    expect(parseErrorBody('{"error_key":"throttled","error_message":"Too Many Requests"}')).toEqual({ key: 'throttled', message: 'Too Many Requests' });
    expect(parseErrorBody('{"error":"invalid_grant","error_description":"expired"}')).toEqual({ key: 'invalid_grant', message: 'expired' });
    expect(parseErrorBody('')).toEqual({});
    expect(parseErrorBody('<html>Bad gateway</html>')).toEqual({ message: '<html>Bad gateway</html>' });
  });

  it.each([
    [400, 'bad_request', false],
    [403, 'forbidden', false],
    [404, 'not_found', false],
    [409, 'conflict', false],
    [413, 'bad_request', false],
    [415, 'unsupported_media_type', false],
    [429, 'throttled', true],
    [500, 'server_error', true],
    [502, 'server_error', true],
    [503, 'server_error', true],
  ])('classifies %i as %s (retryable %s)', (status, code, retryable) => {
    const err = errorFromResponse(ctx, status, {}, '[{"error_key":"k","error_message":"m"}]', Date.now());
    expect(err).toMatchObject({ code, retryable, status });
    expect(err.message).toBe(`Constant Contact GET /x: ${status} k: m`);
  });

  it('reads Retry-After as seconds or as a date', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(retryAfterMs({ 'retry-after': '7' }, now)).toBe(7000);
    expect(retryAfterMs({ 'retry-after': new Date(now + 90_000).toUTCString() }, now)).toBe(90_000);
    expect(retryAfterMs({ 'retry-after': new Date(now - 90_000).toUTCString() }, now)).toBe(0);
    expect(retryAfterMs({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(retryAfterMs({}, now)).toBeUndefined();
  });

  it('scrubs emails and tokens from what Constant Contact says, keeping ids', () => {
    const text = `Contact jane.doe+x@example.test exists; token eyJhbGciOi.eyJleHAiOjE.abc and ${'A'.repeat(40)} in list ${DEFAULT_LIST_ID}`;
    const clean = scrub(text);
    expect(clean).not.toContain('jane.doe');
    expect(clean).not.toContain('eyJ');
    expect(clean).not.toContain('A'.repeat(40));
    expect(clean).toContain(DEFAULT_LIST_ID);
  });
});

describe.each(storeKinds)('Constant Contact client: failures against the sandbox (%s)', (kind) => {
  let ts: TestStore;
  let sb: RunningSandbox;
  let client: ConstantContactClient;
  let connectionId: string;
  let randomValue = 0.1;

  useConnectedClient(kind, { sandbox: { random: () => randomValue }, client: { timeouts: { headersMs: 500 } } }, (c) => {
    ({ ts, sb, client, connectionId } = c);
  });
  afterEach(async () => {
    await sb.control('PUT', '/faults', {});
  });

  it('429 comes out as throttled, retryable', async () => {
    await sb.control('PUT', '/faults', { throttleRate: 1 });
    const err = await caught(() => client.listLists(connectionId));
    expect(err).toBeInstanceOf(ConstantContactError);
    expect(err).toMatchObject({ code: 'throttled', retryable: true, status: 429 });
    expect(err.message).toContain('throttled');
  });

  it('500 and 503 come out as server_error, retryable', async () => {
    await sb.control('PUT', '/faults', { errorRate: 1 });
    randomValue = 0.1;
    expect(await caught(() => client.listLists(connectionId))).toMatchObject({ code: 'server_error', retryable: true, status: 500 });
    randomValue = 0.9;
    expect(await caught(() => client.listLists(connectionId))).toMatchObject({ code: 'server_error', retryable: true, status: 503 });
    randomValue = 0.1;
  });

  it('a connection reset comes out as network_error, retryable', async () => {
    await sb.control('PUT', '/faults', { resetRate: 1 });
    const err = await caught(() => client.getList(connectionId, DEFAULT_LIST_ID));
    expect(err).toMatchObject({ code: 'network_error', retryable: true });
    // The client recovers on the next call.
    await sb.control('PUT', '/faults', {});
    expect((await client.getList(connectionId, DEFAULT_LIST_ID)).name).toBe('Sandbox list');
  });

  it('a timeout comes out as network_error, retryable', async () => {
    await sb.control('PUT', '/faults', { latencyMs: 1500 });
    const err = await caught(() => client.getList(connectionId, DEFAULT_LIST_ID));
    expect(err).toMatchObject({ code: 'network_error', retryable: true });
    expect(err.message).toContain('UND_ERR_HEADERS_TIMEOUT');
  });

  it('a refused connection comes out as network_error, retryable', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const c = makeClient(ts.store, { ...ccConfig(sb.address), apiBaseUrl: `http://127.0.0.1:${port}/v3` });
    try {
      expect(await caught(() => c.listLists(connectionId))).toMatchObject({ code: 'network_error', retryable: true });
    } finally {
      await c.close();
    }
  });

  it('400 comes out as bad_request, not retryable, with Constant Contact\'s error key', async () => {
    const body = JSON.stringify({ import_data: [{ email: 'someone@example.test' }], list_ids: ['11111111-1111-4111-8111-111111111111'] });
    const err = await caught(() => client.importContacts(connectionId, body));
    expect(err).toMatchObject({ code: 'bad_request', retryable: false, status: 400 });
    expect(err.message).toContain('list_not_found');
    expect(err.message).not.toContain('someone@example.test');
  });

  it('404 comes out as not_found, not retryable', async () => {
    const err = await caught(() => client.getList(connectionId, '22222222-2222-4222-8222-222222222222'));
    expect(err).toMatchObject({ code: 'not_found', retryable: false, status: 404 });
    expect(err.message).toContain('22222222-2222-4222-8222-222222222222');
  });

  it('403 comes out as forbidden, not retryable (a token without the contact_data scope)', async () => {
    const id = await insertConnection(ts.store);
    const url = new URL(client.authorizeUrl({ state: 's', codeChallenge: 'c'.repeat(43) }));
    url.searchParams.set('scope', 'offline_access');
    url.searchParams.delete('code_challenge');
    url.searchParams.delete('code_challenge_method');
    const { code } = await followAuthorize(url.toString());
    // Without PKCE on the authorize request, the exchange must not send a verifier: call the endpoint the
    // same way the client does, minus code_verifier.
    const res = await fetch(`${sb.address.authBaseUrl}/token`, {
      method: 'POST',
      headers: {
        authorization: 'Basic ' + Buffer.from('sandbox-client:sandbox-secret').toString('base64'),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: ccConfig(sb.address).redirectUri }),
    });
    const t = (await res.json()) as { access_token: string; refresh_token: string };
    await ts.store.tokens.save(id, { accessToken: t.access_token, refreshToken: t.refresh_token, expiresAt: Date.now() + 3_600_000 });
    const err = await caught(() => client.listLists(id));
    expect(err).toMatchObject({ code: 'forbidden', retryable: false, status: 403 });
    expect(err.message).not.toContain(t.access_token);
  });

  it('refuses an import body over the byte limit instead of letting Constant Contact truncate it', async () => {
    const before = (await sb.stats()).requests;
    const big = JSON.stringify({ import_data: [{ email: 'a@example.test', first_name: 'x'.repeat(5_000_000) }], list_ids: [DEFAULT_LIST_ID] });
    expect(await caught(() => client.importContacts(connectionId, big))).toMatchObject({ code: 'bad_request', retryable: false });
    expect((await sb.stats()).requests).toBe(before);
  });
});

describe.each(storeKinds)('Constant Contact client: answers of a stub server (%s)', (kind) => {
  let ts: TestStore;
  let server: http.Server;
  let answer: { status: number; headers?: Record<string, string>; body: string } = { status: 200, body: '{}' };
  let client: ConstantContactClient;
  let connectionId: string;

  beforeAll(async () => {
    ts = await createTestStore(kind);
    server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = makeClient(ts.store, {
      ...ccConfig({ port: 0, baseUrl: base, apiBaseUrl: `${base}/v3`, authBaseUrl: `${base}/oauth2/default/v1` }),
    });
    connectionId = await insertConnection(ts.store);
    await ts.store.tokens.save(connectionId, { accessToken: fakeAccessToken(), refreshToken: 'r', expiresAt: Date.now() + 3_600_000 });
  });
  afterAll(async () => {
    await client.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await ts.destroy();
  });

  it('honours Retry-After in seconds', async () => {
    answer = { status: 429, headers: { 'retry-after': '7' }, body: '{"error_key":"throttled","error_message":"Too Many Requests"}' };
    expect(await caught(() => client.listLists(connectionId))).toMatchObject({ code: 'throttled', retryable: true, retryAfterMs: 7000 });
  });

  it('honours Retry-After as an HTTP date', async () => {
    answer = { status: 503, headers: { 'retry-after': new Date(Date.now() + 120_000).toUTCString() }, body: '[{"error_key":"unavailable","error_message":"down"}]' };
    const err = await caught(() => client.listLists(connectionId));
    expect(err).toMatchObject({ code: 'server_error', retryable: true });
    expect(err.retryAfterMs).toBeGreaterThan(115_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(120_000);
  });

  it('409 and 415 in either body shape, scrubbed of emails', async () => {
    answer = { status: 409, body: '[{"error_key":"conflict","error_message":"Contact jane@example.test already exists"}]' };
    const conflict = await caught(() => client.listLists(connectionId));
    expect(conflict).toMatchObject({ code: 'conflict', retryable: false });
    expect(conflict.message).toContain('conflict');
    expect(conflict.message).not.toContain('jane@example.test');
    answer = { status: 415, body: '{"error_key":"unsupported_media_type","error_message":"Use JSON"}' };
    expect(await caught(() => client.listLists(connectionId))).toMatchObject({ code: 'unsupported_media_type', retryable: false });
  });

  it('an answer that does not parse as documented is invalid_response', async () => {
    answer = { status: 200, body: '{"lists":[{"name":"no id"}]}' };
    expect(await caught(() => client.listLists(connectionId))).toMatchObject({ code: 'invalid_response', retryable: false });
    answer = { status: 200, body: 'not json' };
    expect(await caught(() => client.getActivity(connectionId, 'a'))).toMatchObject({ code: 'invalid_response', retryable: false });
  });

  it('tolerates extra fields and resolves relative links against the API host', async () => {
    answer = {
      status: 200,
      body: JSON.stringify({
        contacts: [{ contact_id: 'c1', email_address: { address: 'x@example.test', extra: 1 }, unknown: true }],
        _links: { next: { href: '/v3/contacts?cursor=abc' } },
        more: 'ignored',
      }),
    };
    const page = await client.pageListMembers(connectionId, { listId: DEFAULT_LIST_ID });
    expect(page.members).toEqual([{ contactId: 'c1', email: 'x@example.test' }]);
    expect(page.next).toBe(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v3/contacts?cursor=abc`);
  });

  it('does not follow a paging link to another host (it would carry the token)', async () => {
    const err = await caught(() => client.pageListMembers(connectionId, { listId: DEFAULT_LIST_ID, next: 'http://elsewhere.invalid/v3/contacts?cursor=x' }));
    expect(err).toMatchObject({ code: 'invalid_response', retryable: false });
  });
});
