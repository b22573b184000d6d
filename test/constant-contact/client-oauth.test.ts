import { createHash } from 'node:crypto';
import { request } from 'undici';
import { createPkcePair, jwtExpiresAt, type ConstantContactClient } from '../../constant-contact/client';
import { ConstantContactError } from '../../constant-contact/types';
import type { Store } from '../../store';
import { createTestStore, storeKinds, type TestStore } from '../helpers/stores';
import {
  authorizeConnection,
  caught,
  ccConfig,
  followAuthorize,
  insertConnection,
  makeClient,
  openSameStore,
  REDIRECT_URI,
  type RunningSandbox,
  startSandbox,
} from './helpers';

describe('PKCE helpers', () => {
  it('makes a 43..128 character verifier and its S256 challenge', () => {
    const a = createPkcePair();
    const b = createPkcePair();
    expect(a.codeVerifier).toMatch(/^[A-Za-z0-9_-]{43,128}$/);
    expect(a.codeChallenge).toBe(createHash('sha256').update(a.codeVerifier).digest('base64url'));
    expect(a.codeChallengeMethod).toBe('S256');
    expect(a.codeVerifier).not.toBe(b.codeVerifier);
  });
});

describe.each(storeKinds)('Constant Contact client: OAuth (%s)', (kind) => {
  let ts: TestStore;
  let sb: RunningSandbox;
  let clients: ConstantContactClient[] = [];
  /** The clock of the sandbox and the clients: tests move it forward. */
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);

  beforeAll(async () => {
    ts = await createTestStore(kind);
  });
  afterAll(async () => {
    await ts.destroy();
  });
  beforeEach(async () => {
    offsetMs = 0;
    sb = await startSandbox({ accessTokenTtlSeconds: 600, now: () => Date.now() + offsetMs });
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    clients = [];
    await sb.close();
  });

  const client = (store: Store = ts.store) => {
    const c = makeClient(store, ccConfig(sb.address), { clock });
    clients.push(c);
    return c;
  };

  it('builds the authorize URL with state, scope and PKCE S256', () => {
    const url = new URL(client().authorizeUrl({ state: 'the-state', codeChallenge: 'x'.repeat(43) }));
    expect(`${url.origin}${url.pathname}`).toBe(`${sb.address.authBaseUrl}/authorize`);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: 'sandbox-client',
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'contact_data offline_access account_read',
      state: 'the-state',
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
    });
  });

  it('runs the whole authorization-code exchange with PKCE, then calls the API with the saved tokens', async () => {
    const c = client();
    const id = await insertConnection(ts.store);
    const pkce = createPkcePair();
    const { code, state } = await followAuthorize(c.authorizeUrl({ state: 'st-1', codeChallenge: pkce.codeChallenge }));
    expect(state).toBe('st-1');

    const tokens = await c.exchangeCode({ code, codeVerifier: pkce.codeVerifier });
    expect(tokens.refreshToken).toBeTruthy();
    // expiresAt comes from the JWT's exp claim.
    expect(tokens.expiresAt).toBe(jwtExpiresAt(tokens.accessToken));
    expect(Math.abs(tokens.expiresAt - (Date.now() + 600_000))).toBeLessThan(5_000);

    await ts.store.tokens.save(id, tokens);
    const list = await c.getList(id, '00000000-0000-4000-8000-000000000001');
    expect(list).toEqual({ listId: '00000000-0000-4000-8000-000000000001', name: 'Sandbox list', memberCount: 0 });

    // The code is single use.
    const again = await caught(() => c.exchangeCode({ code, codeVerifier: pkce.codeVerifier }));
    expect(again).toBeInstanceOf(ConstantContactError);
    expect(again).toMatchObject({ code: 'oauth_error', retryable: false });
    expect(again.message).not.toContain(code);
  });

  it('refuses an exchange with the wrong PKCE verifier', async () => {
    const c = client();
    const pkce = createPkcePair();
    const { code } = await followAuthorize(c.authorizeUrl({ state: 'st-2', codeChallenge: pkce.codeChallenge }));
    const err = await caught(() => c.exchangeCode({ code, codeVerifier: createPkcePair().codeVerifier }));
    expect(err).toMatchObject({ code: 'oauth_error', retryable: false });
    expect(err.message).toMatch(/invalid_grant/);
  });

  it('refreshes before the access token expires, so the API never sees an expired token', async () => {
    const c = client();
    const id = await insertConnection(ts.store);
    await authorizeConnection(c, ts.store, id);
    await c.listLists(id);
    expect((await ts.store.tokens.read(id))!.generation).toBe(1);

    // 200 s before expiry: inside the 5 minute margin.
    offsetMs = 400_000;
    await c.listLists(id);
    const after = (await ts.store.tokens.read(id))!;
    expect(after.generation).toBe(2);
    expect(after.tokens.expiresAt).toBeGreaterThan(Date.now() + offsetMs + 500_000);

    // Past the first token's expiry: the refreshed one works without another refresh.
    offsetMs = 650_000;
    await c.listLists(id);
    expect((await ts.store.tokens.read(id))!.generation).toBe(2);
    const stats = await sb.stats();
    expect(stats.unauthorized).toBe(0);
    expect(stats.tokenRequests).toBe(2);
  });

  it('two clients refreshing at once leave one rotation and a working connection', async () => {
    const otherStore = await openSameStore(ts);
    try {
      const a = client();
      const b = client(otherStore);
      const id = await insertConnection(ts.store);
      await authorizeConnection(a, ts.store, id);
      offsetMs = 400_000;
      const results = await Promise.all([a.listLists(id), b.listLists(id), a.getList(id, '00000000-0000-4000-8000-000000000001'), b.listCustomFields(id)]);
      expect(results[0][0].name).toBe('Sandbox list');
      const stored = (await ts.store.tokens.read(id))!;
      expect(stored).toMatchObject({ generation: 2, status: 'connected' });
      const stats = await sb.stats();
      expect(stats.tokenRequests).toBe(2); // the exchange and exactly one refresh
      expect(stats.unauthorized).toBe(0);

      // The rotated tokens keep working, and the next refresh (from either process) succeeds.
      offsetMs = 800_000;
      await b.listLists(id);
      await a.listLists(id);
      expect((await ts.store.tokens.read(id))!).toMatchObject({ generation: 3, status: 'connected' });
    } finally {
      await otherStore.close();
    }
  });

  it('takes over the refresh when the process holding the lease died', async () => {
    const c = client();
    const id = await insertConnection(ts.store);
    await authorizeConnection(c, ts.store, id);
    // A process took the lease and crashed before saving anything.
    expect(await ts.store.tokens.acquireRefreshLease(id, 'crashed-worker', 1_500, Date.now())).toBe(true);
    offsetMs = 400_000;
    const started = Date.now();
    await c.listLists(id);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect((await ts.store.tokens.read(id))!).toMatchObject({ generation: 2, status: 'connected' });
  });

  it('a refresh that fails for a passing reason frees the lease and leaves the connection connected', async () => {
    const c = client();
    const id = await insertConnection(ts.store);
    await authorizeConnection(c, ts.store, id);
    // The token endpoint's bucket is empty and refills very slowly: the refresh gets a 429.
    await sb.control('PUT', '/limits', { tokenRatePerSecond: 0.001, tokenBurst: 1 });
    sb.sandbox.oauth.tokenBucket.take(Date.now() + offsetMs);
    offsetMs = 400_000;
    const err = await caught(() => c.listLists(id));
    expect(err).toMatchObject({ code: 'throttled', retryable: true, status: 429 });
    expect((await ts.store.tokens.read(id))!).toMatchObject({ generation: 1, status: 'connected' });
    expect(await ts.store.tokens.acquireRefreshLease(id, 'next-worker', 30_000, Date.now())).toBe(true);
    await ts.store.tokens.releaseRefreshLease(id, 'next-worker');
  });

  it('a 401 refreshes once and retries once', async () => {
    const c = client();
    const id = await insertConnection(ts.store);
    await authorizeConnection(c, ts.store, id);
    const good = (await ts.store.tokens.read(id))!.tokens;
    // An access token Constant Contact does not know (e.g. revoked one by one), the refresh token still good.
    await ts.store.tokens.save(id, { ...good, accessToken: 'not-a-valid-access-token', expiresAt: Date.now() + 3_600_000 });
    const lists = await c.listLists(id);
    expect(lists.length).toBeGreaterThan(0);
    const stats = await sb.stats();
    expect(stats.unauthorized).toBe(1);
    expect(stats.tokenRequests).toBe(2);
    expect((await ts.store.tokens.read(id))!.status).toBe('connected');
  });

  it('marks the connection needs-reauthorization when the refresh token is refused (invalid_grant)', async () => {
    const c = client();
    const id = await insertConnection(ts.store);
    await authorizeConnection(c, ts.store, id);
    await sb.control('POST', '/tokens/revoke');

    const err = await caught(() => c.listLists(id));
    expect(err).toBeInstanceOf(ConstantContactError);
    expect(err).toMatchObject({ code: 'needs_reauthorization', retryable: false });
    expect((await ts.store.tokens.read(id))!.status).toBe('needs-reauthorization');

    // From now on the client does not even call Constant Contact.
    const before = await sb.stats();
    const again = await caught(() => c.getList(id, '00000000-0000-4000-8000-000000000001'));
    expect(again).toMatchObject({ code: 'needs_reauthorization', retryable: false });
    const after = await sb.stats();
    expect(after.requests).toBe(before.requests);
    expect(after.tokenRequests).toBe(before.tokenRequests);

    // A new authorization brings it back.
    await authorizeConnection(c, ts.store, id);
    expect((await c.listLists(id)).length).toBeGreaterThan(0);
  });

  it('needs-reauthorization when the refreshed token is refused as well', async () => {
    const c = client();
    const id = await insertConnection(ts.store);
    await authorizeConnection(c, ts.store, id);
    // Expire access tokens at once: even a fresh one is refused.
    const stored = (await ts.store.tokens.read(id))!;
    await ts.store.tokens.save(id, { ...stored.tokens, accessToken: 'unknown-token', expiresAt: Date.now() + 3_600_000 });
    sb.sandbox.options.accessTokenTtlSeconds = 0;
    const err = await caught(() => c.listLists(id));
    expect(err).toMatchObject({ code: 'needs_reauthorization', retryable: false, status: 401 });
    expect((await ts.store.tokens.read(id))!.status).toBe('needs-reauthorization');
    expect((await sb.stats()).unauthorized).toBe(2);
  });

  it('reports a connection without tokens as not connected', async () => {
    const id = await insertConnection(ts.store);
    const err = await caught(() => client().listLists(id));
    expect(err).toMatchObject({ code: 'not_connected', retryable: false });
  });

  it('never puts a token in an error message', async () => {
    const c = client();
    const id = await insertConnection(ts.store);
    await authorizeConnection(c, ts.store, id);
    const { tokens } = (await ts.store.tokens.read(id))!;
    await sb.control('POST', '/tokens/revoke');
    const err = await caught(() => c.listLists(id));
    expect(err.message).not.toContain(tokens.accessToken);
    expect(err.message).not.toContain(tokens.refreshToken!);
    // Check the sandbox is really gone for tokens (a sanity check of the test itself).
    const res = await request(`${sb.address.apiBaseUrl}/contact_lists`, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
    await res.body.dump();
    expect(res.statusCode).toBe(401);
  });
});
