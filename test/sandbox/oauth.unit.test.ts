import { api, authorize, authorizeUrl, basic, CLIENT_ID, control, decodeJwt, FakeClock, getCode, http, pkce, REDIRECT_URI, start, token, type Running } from './helpers';

describe('sandbox OAuth: authorize', () => {
  let s: Running;
  beforeAll(async () => {
    s = await start();
  });
  afterAll(() => s.close());

  it('approves at once: 302 to the redirect URI with code and state', async () => {
    const { challenge } = pkce();
    const res = await http(
      authorizeUrl(s.addr, { client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'contact_data offline_access', state: 'abc 123', code_challenge: challenge, code_challenge_method: 'S256' }),
    );
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('state')).toBe('abc 123');
    expect(location.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  });

  it('accepts redirect URIs on localhost too', async () => {
    const res = await http(authorizeUrl(s.addr, { client_id: CLIENT_ID, redirect_uri: 'http://localhost:8080/cb', response_type: 'code', scope: 'contact_data', state: 's' }));
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toMatch(/^http:\/\/localhost:8080\/cb\?code=/);
  });

  it('rejects an unknown client_id or a redirect URI off localhost without redirecting', async () => {
    const bad = await http(authorizeUrl(s.addr, { client_id: 'someone-else', redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'contact_data', state: 's' }));
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'invalid_client' });
    const far = await http(authorizeUrl(s.addr, { client_id: CLIENT_ID, redirect_uri: 'https://evil.example.com/cb', response_type: 'code', scope: 'contact_data', state: 's' }));
    expect(far.status).toBe(400);
    expect(far.body).toMatchObject({ error: 'invalid_request' });
    expect(far.headers.get('location')).toBeNull();
  });

  it('redirects with an error for a bad response_type, scope, state or challenge method', async () => {
    const base = { client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'contact_data', state: 'st' };
    const cases: [Record<string, string | undefined>, string][] = [
      [{ ...base, response_type: 'token' }, 'unsupported_response_type'],
      [{ ...base, scope: undefined }, 'invalid_scope'],
      [{ ...base, scope: 'contact_data everything' }, 'invalid_scope'],
      [{ ...base, state: undefined }, 'invalid_request'],
      [{ ...base, code_challenge: pkce().challenge, code_challenge_method: 'plain' }, 'invalid_request'],
    ];
    for (const [params, error] of cases) {
      const res = await http(authorizeUrl(s.addr, params));
      expect(res.status).toBe(302);
      const location = new URL(res.headers.get('location')!);
      expect(location.searchParams.get('error')).toBe(error);
      expect(location.searchParams.get('code')).toBeNull();
    }
  });
});

describe('sandbox OAuth: token endpoint', () => {
  let s: Running;
  let clock: FakeClock;
  beforeAll(async () => {
    clock = new FakeClock();
    s = await start({ now: clock.now });
  });
  afterAll(() => s.close());

  it('exchanges a code with the PKCE verifier for a Bearer JWT (exp readable), 24 h, scope and refresh token', async () => {
    const { verifier, challenge } = pkce();
    const { code } = await getCode(s.addr, { challenge });
    const res = await token(s.addr, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 86400, scope: 'contact_data offline_access' });
    expect(typeof res.body.refresh_token).toBe('string');
    const claims = decodeJwt(res.body.access_token);
    expect(claims.exp).toBe(Math.floor(clock.t / 1000) + 86400);
    expect(claims.cid).toBe(CLIENT_ID);
    const lists = await api(s.addr, res.body.access_token, 'GET', '/contact_lists');
    expect(lists.status).toBe(200);
  });

  it('gives no refresh token without offline_access, and no error', async () => {
    const tokens = await authorize(s.addr, 'contact_data');
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.scope).toBe('contact_data');
  });

  it('rejects a PKCE mismatch and a missing verifier with invalid_grant', async () => {
    const { challenge } = pkce();
    const a = await getCode(s.addr, { challenge });
    const mismatch = await token(s.addr, { grant_type: 'authorization_code', code: a.code, redirect_uri: REDIRECT_URI, code_verifier: pkce().verifier });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body).toMatchObject({ error: 'invalid_grant' });
    expect(typeof mismatch.body.error_description).toBe('string');
    const b = await getCode(s.addr, { challenge });
    const missing = await token(s.addr, { grant_type: 'authorization_code', code: b.code, redirect_uri: REDIRECT_URI });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_grant');
  });

  it('uses a code once only', async () => {
    const { verifier, challenge } = pkce();
    const { code } = await getCode(s.addr, { challenge });
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier };
    expect((await token(s.addr, form)).status).toBe(200);
    const again = await token(s.addr, form);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
  });

  it('lets a code expire after 5 minutes', async () => {
    const { verifier, challenge } = pkce();
    const { code } = await getCode(s.addr, { challenge });
    clock.advance(5 * 60 * 1000);
    const res = await token(s.addr, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  it('accepts a code just before 5 minutes', async () => {
    const { verifier, challenge } = pkce();
    const { code } = await getCode(s.addr, { challenge });
    clock.advance(5 * 60 * 1000 - 1000);
    const res = await token(s.addr, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
    expect(res.status).toBe(200);
  });

  it('requires the same redirect_uri as the authorization request', async () => {
    const { verifier, challenge } = pkce();
    const { code } = await getCode(s.addr, { challenge });
    const res = await token(s.addr, { grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:3999/other', code_verifier: verifier });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  });

  it('requires HTTP Basic client authentication', async () => {
    const { verifier, challenge } = pkce();
    const { code } = await getCode(s.addr, { challenge });
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier };
    const wrong = await token(s.addr, form, basic(CLIENT_ID, 'not-the-secret'));
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    const none = await http(`${s.addr.authBaseUrl}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('invalid_client');
    // The code was not spent by the failed attempts.
    expect((await token(s.addr, form)).status).toBe(200);
  });

  it('answers OAuth errors for a bad grant type or content type', async () => {
    const res = await token(s.addr, { grant_type: 'client_credentials' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unsupported_grant_type');
    const json = await http(`${s.addr.authBaseUrl}/token`, { method: 'POST', headers: { authorization: basic(), 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'refresh_token' }) });
    expect(json.status).toBe(400);
    expect(json.body.error).toBe('invalid_request');
  });

  it('rotates refresh tokens: the old one answers invalid_grant after use, the new one works', async () => {
    const first = await authorize(s.addr);
    const r1 = await token(s.addr, { grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).toBeDefined();
    expect(r1.body.refresh_token).not.toBe(first.refresh_token);
    const old = await token(s.addr, { grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    expect(old.status).toBe(400);
    expect(old.body).toMatchObject({ error: 'invalid_grant' });
    const r2 = await token(s.addr, { grant_type: 'refresh_token', refresh_token: r1.body.refresh_token });
    expect(r2.status).toBe(200);
    // Each refresh invalidates all earlier ones, not only the last.
    expect((await token(s.addr, { grant_type: 'refresh_token', refresh_token: r1.body.refresh_token })).body.error).toBe('invalid_grant');
    expect((await api(s.addr, r2.body.access_token, 'GET', '/contact_lists')).status).toBe(200);
  });

  it('of two racing refreshes with the same token, exactly one wins', async () => {
    const t = await authorize(s.addr);
    const results = await Promise.all([0, 1].map(() => token(s.addr, { grant_type: 'refresh_token', refresh_token: t.refresh_token! })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
  });

  it('keeps refresh tokens long-lived when rotation is off', async () => {
    const other = await start({ rotatingRefreshTokens: false });
    try {
      const t = await authorize(other.addr);
      const r1 = await token(other.addr, { grant_type: 'refresh_token', refresh_token: t.refresh_token! });
      expect(r1.body.refresh_token).toBe(t.refresh_token);
      expect((await token(other.addr, { grant_type: 'refresh_token', refresh_token: t.refresh_token! })).status).toBe(200);
    } finally {
      await other.close();
    }
  });

  it('expires access tokens after 24 hours: the API answers 401 and a refresh gives a working token', async () => {
    const t = await authorize(s.addr);
    clock.advance(86_400_000 - 1000);
    expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(200);
    clock.advance(1000);
    const expired = await api(s.addr, t.access_token, 'GET', '/contact_lists');
    expect(expired.status).toBe(401);
    expect(expired.body).toEqual({ error_key: 'unauthorized', error_message: expect.any(String) });
    const r = await token(s.addr, { grant_type: 'refresh_token', refresh_token: t.refresh_token! });
    expect(r.status).toBe(200);
    expect((await api(s.addr, r.body.access_token, 'GET', '/contact_lists')).status).toBe(200);
  });

  it('expires refresh tokens after 180 days unused', async () => {
    const t = await authorize(s.addr);
    clock.advance(181 * 86_400_000);
    const r = await token(s.addr, { grant_type: 'refresh_token', refresh_token: t.refresh_token! });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_grant');
  });

  it('answers 401 with the single-object body for a missing or unknown token', async () => {
    const none = await api(s.addr, undefined, 'GET', '/contact_lists');
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ error_key: 'unauthorized', error_message: expect.any(String) });
    const forged = await api(s.addr, 'eyJhbGciOiJub25lIn0.eyJleHAiOjk5OTk5OTk5OTl9.', 'GET', '/contact_lists');
    expect(forged.status).toBe(401);
  });

  it('answers 403 (array body) to a token without the contact_data scope', async () => {
    const t = await authorize(s.addr, 'account_read');
    const res = await api(s.addr, t.access_token, 'GET', '/contact_lists');
    expect(res.status).toBe(403);
    expect(Array.isArray(res.body)).toBe(true);
    expect(res.body[0]).toMatchObject({ error_key: expect.any(String), error_message: expect.any(String) });
  });

  it('account/summary answers the account an authorization landed on, and needs account_read', async () => {
    const first = await authorize(s.addr, 'contact_data account_read');
    expect((await api(s.addr, first.access_token, 'GET', '/account/summary')).body).toMatchObject({ encoded_account_id: 'a07esandbox001' });
    expect((await control(s.addr, 'PUT', '/account', { encodedAccountId: 'a07eother0002' })).status).toBe(200);
    const second = await authorize(s.addr, 'contact_data account_read');
    expect((await api(s.addr, second.access_token, 'GET', '/account/summary')).body.encoded_account_id).toBe('a07eother0002');
    // A token keeps the account it was issued for.
    expect((await api(s.addr, first.access_token, 'GET', '/account/summary')).body.encoded_account_id).toBe('a07esandbox001');
    const withoutScope = await authorize(s.addr, 'contact_data');
    expect((await api(s.addr, withoutScope.access_token, 'GET', '/account/summary')).status).toBe(403);
    await control(s.addr, 'POST', '/reset');
    const afterReset = await authorize(s.addr, 'contact_data account_read');
    expect((await api(s.addr, afterReset.access_token, 'GET', '/account/summary')).body.encoded_account_id).toBe('a07esandbox001');
  });

  it('revoke: every token stops working (API 401, refresh invalid_grant), new authorizations work', async () => {
    const a = await authorize(s.addr);
    const b = await authorize(s.addr);
    const rev = await control(s.addr, 'POST', '/tokens/revoke');
    expect(rev.status).toBe(200);
    expect(rev.body.revoked).toBeGreaterThanOrEqual(2);
    for (const t of [a, b]) {
      expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(401);
      const r = await token(s.addr, { grant_type: 'refresh_token', refresh_token: t.refresh_token! });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('invalid_grant');
    }
    const fresh = await authorize(s.addr);
    expect((await api(s.addr, fresh.access_token, 'GET', '/contact_lists')).status).toBe(200);
  });

  it('revokes a single refresh token through /revoke (RFC 7009)', async () => {
    const t = await authorize(s.addr);
    const res = await http(`${s.addr.authBaseUrl}/revoke`, {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: t.refresh_token! }).toString(),
    });
    expect(res.status).toBe(200);
    expect((await token(s.addr, { grant_type: 'refresh_token', refresh_token: t.refresh_token! })).body.error).toBe('invalid_grant');
  });
});

describe('sandbox OAuth: token endpoint rate', () => {
  it('does not count against the /v3 limits and has its own limit (burst, then about 1 a second)', async () => {
    const clock = new FakeClock();
    const s = await start({ now: clock.now, ratePerSecond: 4, tokenRatePerSecond: 1, tokenBurst: 3 });
    try {
      const t = await authorize(s.addr); // one token request
      let refresh = t.refresh_token!;
      for (let i = 0; i < 2; i++) {
        const r = await token(s.addr, { grant_type: 'refresh_token', refresh_token: refresh });
        expect(r.status).toBe(200);
        refresh = r.body.refresh_token;
      }
      const limited = await token(s.addr, { grant_type: 'refresh_token', refresh_token: refresh });
      expect(limited.status).toBe(429);
      expect(limited.body.error).toBeDefined();
      clock.advance(1000);
      const ok = await token(s.addr, { grant_type: 'refresh_token', refresh_token: refresh });
      expect(ok.status).toBe(200);
      // The four /v3 requests of this second are all still available.
      const results = await Promise.all([0, 1, 2, 3].map(() => api(s.addr, ok.body.access_token, 'GET', '/contact_lists')));
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      const stats = await control(s.addr, 'GET', '/stats');
      expect(stats.body.tokenThrottled).toBe(1);
      expect(stats.body.requests).toBe(4);
    } finally {
      await s.close();
    }
  });
});
