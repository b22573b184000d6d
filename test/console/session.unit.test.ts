import type { Store } from '../../store';
import { ADMIN_KEY, CONTRIBUTOR_KEY, call, openMemoryStore, signIn, startSessionApp, type SessionApp } from './session-app';

const RULE = { attribute: 'Country', op: 'eq', value: 'LV' };

describe('console sessions: the API key exchanged for a cookie and a CSRF token', () => {
  let store: Store;
  let app: SessionApp;

  beforeEach(async () => {
    store = await openMemoryStore();
    app = await startSessionApp({ store });
  });
  afterEach(async () => {
    await app.close();
    await store.close();
  });

  const segmentCount = async () => (await call(app.baseUrl, 'GET', '/v1/segments', { headers: { authorization: `Bearer ${ADMIN_KEY}` } })).body.items.length;

  it('sets an HttpOnly, SameSite=Strict cookie for the whole site that expires after the configured time', async () => {
    const { answer } = await signIn(app.baseUrl, ADMIN_KEY);
    const cookie = answer.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^segexp_session=[\w-]{43}; /);
    expect(cookie.split('; ').slice(1).sort()).toEqual(['HttpOnly', 'Max-Age=28800', 'Path=/', 'SameSite=Strict']);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.body).toEqual({ role: 'admin', csrfToken: expect.stringMatching(/^[\w-]{43}$/), expiresAt: '2030-01-01T16:00:00.000Z' });
  });

  it('marks the cookie Secure over HTTPS, believing X-Forwarded-Proto only when TRUST_PROXY is set', async () => {
    const untrusted = await signIn(app.baseUrl, ADMIN_KEY, { 'x-forwarded-proto': 'https' });
    expect(untrusted.answer.headers.get('set-cookie')).not.toMatch(/Secure/);

    const behindProxy = await startSessionApp({ store, env: { TRUST_PROXY: 'true', CONSOLE_SESSION_TTL_SECONDS: '600' } });
    try {
      const secure = await signIn(behindProxy.baseUrl, ADMIN_KEY, { 'x-forwarded-proto': 'https' });
      expect(secure.answer.headers.get('set-cookie')).toMatch(/; Secure(;|$)/);
      expect(secure.answer.headers.get('set-cookie')).toMatch(/; Max-Age=600;/);
      const plain = await signIn(behindProxy.baseUrl, ADMIN_KEY);
      expect(plain.answer.headers.get('set-cookie')).not.toMatch(/Secure/);
    } finally {
      await behindProxy.close();
    }
  });

  it('refuses a key that is not configured, naming the field, and sets no cookie', async () => {
    const answer = await call(app.baseUrl, 'POST', '/console/session', { body: { apiKey: 'not-a-key-of-this-installation' } });
    expect(answer.status).toBe(401);
    expect(answer.body.error).toMatchObject({ code: 'unauthorized', details: [{ path: ['body', 'apiKey'] }] });
    expect(answer.headers.get('set-cookie')).toBeNull();
    const missing = await call(app.baseUrl, 'POST', '/console/session', { body: {} });
    expect(missing.status).toBe(400);
  });

  it('authenticates /v1 requests with the role of the key it was signed in with', async () => {
    const admin = await signIn(app.baseUrl, ADMIN_KEY);
    expect((await call(app.baseUrl, 'GET', '/v1/segments', { headers: { cookie: admin.cookie } })).status).toBe(200);
    const created = await call(app.baseUrl, 'POST', '/v1/segments', { body: { name: 'Latvia', rule: RULE }, headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken } });
    expect(created.status).toBe(201);

    const contributor = await signIn(app.baseUrl, CONTRIBUTOR_KEY);
    expect(contributor.answer.body.role).toBe('contributor');
    expect((await call(app.baseUrl, 'GET', '/v1/segments', { headers: { cookie: contributor.cookie } })).status).toBe(200);
    const forbidden = await call(app.baseUrl, 'POST', '/v1/segments', { body: { name: 'Estonia', rule: RULE }, headers: { cookie: contributor.cookie, 'x-csrf-token': contributor.csrfToken } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('forbidden');
    expect(await segmentCount()).toBe(1);
  });

  it('answers 403 csrf_failed to a state-changing request without the right CSRF token, and changes nothing', async () => {
    const admin = await signIn(app.baseUrl, ADMIN_KEY);
    const other = await signIn(app.baseUrl, ADMIN_KEY);
    for (const headers of [{ cookie: admin.cookie } as Record<string, string>, { cookie: admin.cookie, 'x-csrf-token': other.csrfToken }, { cookie: admin.cookie, 'x-csrf-token': '' }]) {
      const refused = await call(app.baseUrl, 'POST', '/v1/segments', { body: { name: 'Latvia', rule: RULE }, headers });
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('csrf_failed');
    }
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      const refused = await call(app.baseUrl, method, '/v1/segments/seg_000000000000', { body: method === 'DELETE' ? undefined : { name: 'x' }, headers: { cookie: admin.cookie } });
      expect([method, refused.status, refused.body.error.code]).toEqual([method, 403, 'csrf_failed']);
    }
    expect(await segmentCount()).toBe(0);
  });

  it('lets a Bearer key decide alone: no CSRF token needed, and a wrong key is not rescued by a cookie', async () => {
    const admin = await signIn(app.baseUrl, ADMIN_KEY);
    const withKey = await call(app.baseUrl, 'POST', '/v1/segments', { body: { name: 'Latvia', rule: RULE }, headers: { cookie: admin.cookie, authorization: `Bearer ${ADMIN_KEY}` } });
    expect(withKey.status).toBe(201);
    const wrongKey = await call(app.baseUrl, 'GET', '/v1/segments', { headers: { cookie: admin.cookie, authorization: 'Bearer wrong-key-0123456789abcdef' } });
    expect(wrongKey.status).toBe(401);
  });

  it('tells the page its role and CSRF token again after a reload, and nothing without a session', async () => {
    const admin = await signIn(app.baseUrl, ADMIN_KEY);
    const again = await call(app.baseUrl, 'GET', '/console/session', { headers: { cookie: admin.cookie } });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(admin.answer.body);
    const none = await call(app.baseUrl, 'GET', '/console/session');
    expect(none.status).toBe(401);
    expect(none.headers.get('set-cookie')).toBeNull();
  });

  it('ends the session at its expiry: /v1 answers 401 and the page is told to sign in again', async () => {
    const admin = await signIn(app.baseUrl, ADMIN_KEY);
    app.clock.now = new Date('2030-01-01T15:59:59Z');
    expect((await call(app.baseUrl, 'GET', '/v1/segments', { headers: { cookie: admin.cookie } })).status).toBe(200);
    app.clock.now = new Date('2030-01-01T16:00:00Z');
    expect((await call(app.baseUrl, 'GET', '/v1/segments', { headers: { cookie: admin.cookie } })).status).toBe(401);
    const session = await call(app.baseUrl, 'GET', '/console/session', { headers: { cookie: admin.cookie } });
    expect(session.status).toBe(401);
    expect(session.headers.get('set-cookie')).toMatch(/^segexp_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict/);
  });

  it('signs out with the CSRF token: the cookie is cleared and the session no longer works', async () => {
    const admin = await signIn(app.baseUrl, ADMIN_KEY);
    const noToken = await call(app.baseUrl, 'DELETE', '/console/session', { headers: { cookie: admin.cookie } });
    expect(noToken.status).toBe(403);
    expect((await call(app.baseUrl, 'GET', '/v1/segments', { headers: { cookie: admin.cookie } })).status).toBe(200);

    const out = await call(app.baseUrl, 'DELETE', '/console/session', { headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^segexp_session=; Path=\/; Max-Age=0;/);
    expect((await call(app.baseUrl, 'GET', '/v1/segments', { headers: { cookie: admin.cookie } })).status).toBe(401);
  });

  it('is shared by every API process on the store, and a key no longer configured ends its sessions', async () => {
    const admin = await signIn(app.baseUrl, ADMIN_KEY);
    const sameKeys = await startSessionApp({ store, clock: app.clock });
    const adminRemoved = await startSessionApp({ store, clock: app.clock, env: { API_KEYS: `contributor:${CONTRIBUTOR_KEY}` } });
    const roleChanged = await startSessionApp({ store, clock: app.clock, env: { API_KEYS: `contributor:${ADMIN_KEY}` } });
    try {
      expect((await call(sameKeys.baseUrl, 'GET', '/v1/segments', { headers: { cookie: admin.cookie } })).status).toBe(200);
      // The key now has another role: the session does not carry the old one over.
      expect((await call(roleChanged.baseUrl, 'GET', '/v1/segments', { headers: { cookie: admin.cookie } })).status).toBe(401);
      const second = await signIn(app.baseUrl, ADMIN_KEY);
      expect((await call(adminRemoved.baseUrl, 'GET', '/v1/segments', { headers: { cookie: second.cookie } })).status).toBe(401);
      // Removed from the store: the processes that still know the key refuse it too.
      expect((await call(sameKeys.baseUrl, 'GET', '/v1/segments', { headers: { cookie: second.cookie } })).status).toBe(401);
    } finally {
      await Promise.all([sameKeys.close(), adminRemoved.close(), roleChanged.close()]);
    }
  });

  it('stores neither the session id nor the API key, only their digests', async () => {
    const admin = await signIn(app.baseUrl, ADMIN_KEY);
    const rows = await store.db.all<Record<string, string>>('SELECT * FROM console_sessions');
    expect(rows).toHaveLength(1);
    const text = JSON.stringify(rows);
    expect(text).not.toContain(admin.cookie.split('=')[1]);
    expect(text).not.toContain(ADMIN_KEY);
    expect(text).not.toContain(admin.csrfToken);
    expect(rows[0]).toMatchObject({ role: 'admin', id_hash: expect.stringMatching(/^[0-9a-f]{64}$/), key_fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });
});
