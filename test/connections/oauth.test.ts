import fs from 'node:fs';
import { DEFAULT_LIST_ID } from '../../sandbox/server';
import { connectSandboxConnection, createTestApp, followAuthorization, type TestApp, type TestResponse } from '../helpers/app';
import { storeKinds } from '../helpers/stores';

/** Tables whose changes are bookkeeping of calls to Constant Contact, not stored state of the product. */
const PACING = ['rate_limits'];

describe.each(storeKinds)('connections and OAuth (%s)', (kind) => {
  let app: TestApp;
  let offsetMs = 0;
  /** Every response body the tests saw, searched for secrets at the end. */
  const seen: string[] = [];
  const keep = <T extends TestResponse>(r: T): T => {
    seen.push(r.text, JSON.stringify([...r.headers.entries()]));
    return r;
  };

  beforeAll(async () => {
    app = await createTestApp({ kind, clock: () => new Date(Date.now() + offsetMs) });
  });
  afterAll(async () => {
    await app?.close();
  });
  afterEach(() => {
    offsetMs = 0;
  });

  const createConnection = async (body: Record<string, unknown> = {}) => {
    const res = keep(await app.as('admin').post('/v1/connections', { displayName: 'Newsletter account', usableBy: 'admins', dataPrivacyConsent: true, ...body }));
    expect(res.status).toBe(201);
    return res.body as { id: string; authorizeUrl: string; status: string; displayName: string; usableBy: string };
  };

  const tokenRow = (id: string) =>
    app.store.db.get<{ tokens: string | null; token_generation: number; status: string }>('SELECT tokens, token_generation, status FROM connections WHERE id = ?', [id]);

  it('creates a connection, follows the authorize redirect to the sandbox and back, and is connected', async () => {
    const created = await createConnection();
    expect(created).toMatchObject({ displayName: 'Newsletter account', usableBy: 'admins', status: 'pending-authorization' });
    expect(created.id).toMatch(/^con_/);
    expect(created.authorizeUrl.startsWith(`${app.baseUrl}/v1/connections/${created.id}/authorize?ticket=`)).toBe(true);

    const flow = await followAuthorization(app, created.authorizeUrl);
    keep(flow.authorizeResponse);
    keep(flow.callbackResponse);
    const cc = flow.constantContactUrl;
    expect(`${cc.origin}${cc.pathname}`).toBe(`${app.config.constantContact.authBaseUrl}/authorize`);
    expect(cc.searchParams.get('client_id')).toBe('sandbox-client');
    expect(cc.searchParams.get('redirect_uri')).toBe(`${app.baseUrl}/v1/oauth/constant-contact/callback`);
    expect(cc.searchParams.get('response_type')).toBe('code');
    expect(cc.searchParams.get('scope')).toBe('contact_data offline_access account_read');
    expect(cc.searchParams.get('code_challenge_method')).toBe('S256');
    expect(cc.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cc.searchParams.get('state')?.length).toBeGreaterThanOrEqual(32);
    expect(flow.authorizeResponse.headers.get('cache-control')).toBe('no-store');

    expect(flow.callbackUrl.pathname).toBe('/v1/oauth/constant-contact/callback');
    expect(flow.callbackResponse.status).toBe(200);
    expect(flow.callbackResponse.headers.get('content-type')).toMatch(/text\/html/);
    expect(flow.callbackResponse.text).toMatch(/Newsletter account<\/strong> is connected/);

    const read = keep(await app.as('admin').get(`/v1/connections/${created.id}`));
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: created.id, status: 'connected', usableBy: 'admins' });

    const lists = keep(await app.as('admin').get(`/v1/connections/${created.id}/lists`));
    expect(lists.status).toBe(200);
    expect(lists.body.items).toEqual(expect.arrayContaining([expect.objectContaining({ listId: DEFAULT_LIST_ID, name: 'Sandbox list' })]));

    const added = await app.sandboxControl('POST', '/custom-fields', { label: 'Loyalty Tier', type: 'string' });
    expect(added.status).toBeLessThan(300);
    const fields = keep(await app.as('admin').get(`/v1/connections/${created.id}/custom-fields`));
    expect(fields.status).toBe(200);
    expect(fields.body.items).toEqual(expect.arrayContaining([expect.objectContaining({ label: 'Loyalty Tier', type: 'string' })]));
  });

  it('answers 400 to a replayed state and stores nothing, even with a fresh code', async () => {
    const created = await createConnection({ displayName: 'Replay' });
    const flow = await followAuthorization(app, created.authorizeUrl);
    expect(flow.callbackResponse.status).toBe(200);
    const afterFirst = await tokenRow(created.id);
    expect(afterFirst?.status).toBe('connected');
    const before = await app.dumpTables({ exclude: PACING });

    // The very same callback URL (code and state) again.
    const replay = keep(await app.requester(undefined).get(`${flow.callbackUrl.pathname}${flow.callbackUrl.search}`));
    expect(replay.status).toBe(400);
    expect(replay.body.error.code).toBe('invalid_state');

    // A fresh, valid code from Constant Contact with the used state.
    const again = await fetch(flow.constantContactUrl, { redirect: 'manual' });
    const fresh = new URL(again.headers.get('location')!);
    expect(fresh.searchParams.get('code')).toBeTruthy();
    app.secrets.add(fresh.searchParams.get('code')!);
    expect(fresh.searchParams.get('code')).not.toBe(flow.callbackUrl.searchParams.get('code'));
    const replayWithFreshCode = keep(await app.requester(undefined).get(`${fresh.pathname}${fresh.search}`, { headers: { accept: 'text/html' } }));
    expect(replayWithFreshCode.status).toBe(400);
    expect(replayWithFreshCode.headers.get('content-type')).toMatch(/text\/html/);

    expect(await app.dumpTables({ exclude: PACING })).toEqual(before);
    expect((await tokenRow(created.id))?.token_generation).toBe(afterFirst?.token_generation);
  });

  it('answers 400 to an unknown or missing state and stores nothing', async () => {
    const before = await app.dumpTables({ exclude: PACING });
    for (const query of ['?code=abc&state=not-a-state-we-issued', '?code=abc', '', '?state=&code=x']) {
      const res = keep(await app.requester(undefined).get(`/v1/oauth/constant-contact/callback${query}`));
      expect(res.status).toBe(400);
      expect(res.body.error.requestId).toBeTruthy();
    }
    expect(await app.dumpTables({ exclude: PACING })).toEqual(before);
  });

  it('answers error=access_denied from Constant Contact with a 400 page, stores no tokens, and uses the state up', async () => {
    const created = await createConnection({ displayName: 'Denied' });
    const authorize = keep(await app.requester(undefined).get(new URL(created.authorizeUrl).pathname + new URL(created.authorizeUrl).search));
    expect(authorize.status).toBe(302);
    const state = new URL(authorize.headers.get('location')!).searchParams.get('state')!;
    const denied = keep(
      await app.requester(undefined).get(`/v1/oauth/constant-contact/callback?error=access_denied&error_description=no&state=${encodeURIComponent(state)}`, {
        headers: { accept: 'text/html' },
      }),
    );
    expect(denied.status).toBe(400);
    expect(denied.headers.get('content-type')).toMatch(/text\/html/);
    expect(denied.text).toMatch(/denied/);
    expect(await tokenRow(created.id)).toMatchObject({ tokens: null, status: 'pending-authorization' });

    // The state was used up: approving afterwards with it does not connect.
    const late = await fetch(authorize.headers.get('location')!, { redirect: 'manual' });
    const callback = new URL(late.headers.get('location')!);
    app.secrets.add(callback.searchParams.get('code') ?? '');
    const res = keep(await app.requester(undefined).get(`${callback.pathname}${callback.search}`));
    expect(res.status).toBe(400);
    expect(await tokenRow(created.id)).toMatchObject({ tokens: null, status: 'pending-authorization' });
  });

  it('makes the authorize ticket single use and expires it after 10 minutes', async () => {
    const created = await createConnection({ displayName: 'Tickets' });
    const path = new URL(created.authorizeUrl).pathname + new URL(created.authorizeUrl).search;
    expect(keep(await app.requester(undefined).get(path)).status).toBe(302);
    const reused = keep(await app.requester(undefined).get(path));
    expect(reused.status).toBe(400);
    expect(reused.body.error.code).toBe('invalid_ticket');

    const fresh = keep(await app.as('admin').post(`/v1/connections/${created.id}/reauthorize`));
    expect(fresh.status).toBe(200);
    offsetMs = 10 * 60_000 + 1000;
    const expired = keep(await app.requester(undefined).get(new URL(fresh.body.authorizeUrl).pathname + new URL(fresh.body.authorizeUrl).search));
    expect(expired.status).toBe(400);
    expect(expired.body.error.code).toBe('invalid_ticket');

    // A ticket of another connection does not open this one.
    offsetMs = 0;
    const other = await createConnection({ displayName: 'Other' });
    const otherTicket = new URL(other.authorizeUrl).searchParams.get('ticket')!;
    const wrong = keep(await app.requester(undefined).get(`/v1/connections/${created.id}/authorize?ticket=${encodeURIComponent(otherTicket)}`));
    expect(wrong.status).toBe(400);
  });

  it('expires an OAuth state after 10 minutes', async () => {
    const created = await createConnection({ displayName: 'Slow admin' });
    const authorize = await app.requester(undefined).get(new URL(created.authorizeUrl).pathname + new URL(created.authorizeUrl).search);
    expect(authorize.status).toBe(302);
    const approved = await fetch(authorize.headers.get('location')!, { redirect: 'manual' });
    const callback = new URL(approved.headers.get('location')!);
    app.secrets.add(callback.searchParams.get('code') ?? '');
    offsetMs = 10 * 60_000 + 1000;
    const res = keep(await app.requester(undefined).get(`${callback.pathname}${callback.search}`));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_state');
    expect(await tokenRow(created.id)).toMatchObject({ tokens: null, status: 'pending-authorization' });
  });

  it('re-authorizes a connection with a fresh ticket, and shows needs-reauthorization when Constant Contact revokes it', async () => {
    const id = await connectSandboxConnection(app, { displayName: 'Revoked later' });
    const generation = (await tokenRow(id))!.token_generation;
    const again = keep(await app.as('admin').post(`/v1/connections/${id}/reauthorize`));
    expect(again.status).toBe(200);
    expect(again.body.authorizeUrl).toContain(`/v1/connections/${id}/authorize?ticket=`);
    const flow = await followAuthorization(app, again.body.authorizeUrl);
    expect(flow.callbackResponse.status).toBe(200);
    expect((await tokenRow(id))!.token_generation).toBeGreaterThan(generation);

    expect((await app.sandboxControl('POST', '/tokens/revoke')).status).toBeLessThan(300);
    const lists = keep(await app.as('admin').get(`/v1/connections/${id}/lists`));
    expect(lists.status).toBe(422);
    expect(lists.body.error.code).toBe('connection_not_connected');
    const read = keep(await app.as('admin').get(`/v1/connections/${id}`));
    expect(read.body.status).toBe('needs-reauthorization');

    // Re-authorizing brings it back.
    const fix = keep(await app.as('admin').post(`/v1/connections/${id}/reauthorize`));
    expect((await followAuthorization(app, fix.body.authorizeUrl)).callbackResponse.status).toBe(200);
    expect(keep(await app.as('admin').get(`/v1/connections/${id}`)).body.status).toBe('connected');
    expect(keep(await app.as('admin').get(`/v1/connections/${id}/lists`)).status).toBe(200);
  });

  it('keeps every token and code the sandbox issued out of the database, the responses and the logs', async () => {
    const id = await connectSandboxConnection(app, { displayName: 'Secret keeper', usableBy: 'admins-and-contributors' });
    keep(await app.as('admin').get('/v1/connections'));
    keep(await app.as('contributor').get('/v1/connections'));
    keep(await app.as('admin').get(`/v1/connections/${id}/lists`));
    keep(await app.as('contributor').get(`/v1/connections/${id}/custom-fields`));

    const secrets = [...app.secrets].filter((s) => s.length >= 16);
    // Access and refresh tokens of several authorizations, and their codes.
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    const stored = await tokenRow(id);
    expect(stored?.tokens).toMatch(/^v1\./);

    // The database: every table as text, and for SQLite the raw bytes of the file and its WAL.
    const dump = JSON.stringify(await app.dumpTables());
    let raw = dump;
    if (kind === 'sqlite') {
      await app.store.db.run('PRAGMA wal_checkpoint(PASSIVE)');
      for (const file of [app.testStore.location, `${app.testStore.location}-wal`]) {
        if (fs.existsSync(file)) raw += fs.readFileSync(file).toString('latin1');
      }
      expect(raw.length).toBeGreaterThan(dump.length);
    }
    const logs = app.logLines.join('\n');
    expect(logs).toMatch(/"path":"\/v1\/oauth\/constant-contact\/callback"/);
    const responses = seen.join('\n');
    for (const secret of secrets) {
      expect({ where: 'database', found: raw.includes(secret) }).toEqual({ where: 'database', found: false });
      expect({ where: 'logs', found: logs.includes(secret) }).toEqual({ where: 'logs', found: false });
      expect({ where: 'responses', found: responses.includes(secret) }).toEqual({ where: 'responses', found: false });
    }
    // The access token is a JWT: its signature part alone must not leak either.
    for (const jwt of secrets.filter((s) => s.split('.').length === 3)) {
      const signature = jwt.split('.')[2];
      expect(raw.includes(signature) || logs.includes(signature) || responses.includes(signature)).toBe(false);
    }
  });
});
