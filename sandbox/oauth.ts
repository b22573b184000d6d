import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import type { SandboxOptions } from './options';
import { TokenBucket } from './rate-limit';
import type { SandboxState } from './state';

/**
 * OAuth 2 of the sandbox (authorization code with PKCE, rotating refresh tokens), under
 * /oauth2/default/v1 like authz.constantcontact.com. Error bodies are OAuth JSON {error, error_description}.
 */

export const KNOWN_SCOPES = new Set(['contact_data', 'offline_access', 'campaign_data', 'account_read', 'account_update', 'openid', 'profile']);

interface AuthCode {
  /** The account the user logged in to (sandbox: the account of the moment, PUT /__sandbox/account). */
  accountId: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  challenge: string | undefined;
  expiresAt: number;
  used: boolean;
}

interface Grant {
  id: string;
  accountId: string;
  clientId: string;
  scope: string;
  /** The one refresh token that works now (rotating) or the long-lived one. */
  refreshToken: string | undefined;
  refreshLastUsedAt: number;
  revoked: boolean;
}

export interface AccessTokenInfo {
  accountId: string;
  clientId: string;
  grantId: string;
  scopes: Set<string>;
  expiresAt: number;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export class OAuthStore {
  private codes = new Map<string, AuthCode>();
  private grants = new Map<string, Grant>();
  private grantByRefreshToken = new Map<string, Grant>();
  private accessTokens = new Map<string, AccessTokenInfo>();
  private readonly signingKey = randomBytes(32);
  readonly tokenBucket: TokenBucket;

  constructor(private readonly options: SandboxOptions) {
    this.tokenBucket = new TokenBucket(options.tokenRatePerSecond, options.tokenBurst);
  }

  private now(): number {
    return this.options.now();
  }

  issueCode(accountId: string, clientId: string, redirectUri: string, scope: string, challenge: string | undefined): string {
    const code = randomToken(24);
    this.codes.set(code, { accountId, clientId, redirectUri, scope, challenge, expiresAt: this.now() + this.options.authCodeTtlSeconds * 1000, used: false });
    return code;
  }

  /** Redeems a code, or returns the OAuth error. */
  redeemCode(clientId: string, code: string, redirectUri: string, verifier: string | undefined): Grant | { error: string; description: string } {
    const record = this.codes.get(code);
    if (!record || record.clientId !== clientId) return { error: 'invalid_grant', description: 'The authorization code is invalid.' };
    if (record.used) return { error: 'invalid_grant', description: 'The authorization code has already been used.' };
    if (this.now() >= record.expiresAt) return { error: 'invalid_grant', description: 'The authorization code has expired.' };
    if (record.redirectUri !== redirectUri) return { error: 'invalid_grant', description: "The 'redirect_uri' does not match the one of the authorization request." };
    if (record.challenge !== undefined) {
      if (!verifier) return { error: 'invalid_grant', description: 'PKCE verification failed: code_verifier is required.' };
      const computed = createHash('sha256').update(verifier).digest('base64url');
      if (computed !== record.challenge) return { error: 'invalid_grant', description: 'PKCE verification failed.' };
    } else if (verifier) {
      return { error: 'invalid_grant', description: 'PKCE verification failed: the authorization request had no code_challenge.' };
    }
    record.used = true;
    const grant: Grant = { id: randomUUID(), accountId: record.accountId, clientId, scope: record.scope, refreshToken: undefined, refreshLastUsedAt: this.now(), revoked: false };
    this.grants.set(grant.id, grant);
    return grant;
  }

  /** Redeems a refresh token (rotating: the old one stops working), or returns the OAuth error. */
  redeemRefreshToken(clientId: string, token: string): Grant | { error: string; description: string } {
    const grant = this.grantByRefreshToken.get(token);
    const invalid = { error: 'invalid_grant', description: 'The refresh token is invalid or expired.' };
    if (!grant || grant.revoked || grant.clientId !== clientId || grant.refreshToken !== token) return invalid;
    if (this.now() - grant.refreshLastUsedAt > this.options.refreshTokenIdleDays * 86_400_000) return invalid;
    grant.refreshLastUsedAt = this.now();
    return grant;
  }

  /** Token response for a grant: a new access token, and a refresh token when offline_access was granted. */
  tokenResponse(grant: Grant, issuer: string): Record<string, unknown> {
    const now = this.now();
    const iat = Math.floor(now / 1000);
    const exp = iat + this.options.accessTokenTtlSeconds;
    const scopes = grant.scope.split(' ').filter(Boolean);
    const header = { kid: 'sandbox', alg: 'HS256', typ: 'JWT' };
    const payload = { ver: 1, jti: `AT.${randomToken(16)}`, iss: issuer, aud: 'https://api.cc.email', iat, exp, cid: grant.clientId, uid: grant.id, scp: scopes, sub: 'sandbox-account' };
    const unsigned = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
    const accessToken = `${unsigned}.${createHmac('sha256', this.signingKey).update(unsigned).digest('base64url')}`;
    this.accessTokens.set(accessToken, { accountId: grant.accountId, clientId: grant.clientId, grantId: grant.id, scopes: new Set(scopes), expiresAt: exp * 1000 });
    const body: Record<string, unknown> = { token_type: 'Bearer', expires_in: this.options.accessTokenTtlSeconds, access_token: accessToken, scope: grant.scope };
    if (scopes.includes('offline_access')) {
      if (this.options.rotatingRefreshTokens || !grant.refreshToken) {
        grant.refreshToken = randomToken(32);
        this.grantByRefreshToken.set(grant.refreshToken, grant);
      }
      body.refresh_token = grant.refreshToken;
    }
    return body;
  }

  /** The access token's record when it is valid now. */
  verifyAccessToken(token: string): AccessTokenInfo | undefined {
    const info = this.accessTokens.get(token);
    if (!info) return undefined;
    if (this.now() >= info.expiresAt) return undefined;
    const grant = this.grants.get(info.grantId);
    if (!grant || grant.revoked) return undefined;
    return info;
  }

  /** RFC 7009 revocation of one token (access or refresh). */
  revokeToken(token: string): void {
    const grant = this.grantByRefreshToken.get(token);
    if (grant && grant.refreshToken === token) grant.revoked = true;
    this.accessTokens.delete(token);
  }

  /** Every token and pending code stops working. */
  revokeAll(): number {
    let n = 0;
    for (const grant of this.grants.values()) {
      if (!grant.revoked) n++;
      grant.revoked = true;
    }
    this.accessTokens.clear();
    this.codes.clear();
    return n;
  }
}

function oauthError(res: Response, status: number, error: string, description: string): void {
  res.status(status).set('Cache-Control', 'no-store').json({ error, error_description: description });
}

function single(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function isLocalRedirectUri(uri: string): boolean {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && (url.hostname === 'localhost' || url.hostname === '127.0.0.1') && url.hash === '';
}

/** Reads HTTP Basic client credentials. */
function basicAuth(req: Request): { id: string; secret: string } | undefined {
  const header = req.headers.authorization;
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return { id: decodeURIComponent(decoded.slice(0, i)), secret: decodeURIComponent(decoded.slice(i + 1)) };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function oauthRouter(options: SandboxOptions, store: OAuthStore, state: SandboxState): Router {
  const router = express.Router();

  router.get('/authorize', (req, res) => {
    const q = req.query as Record<string, unknown>;
    const clientId = single(q.client_id);
    const redirectUri = single(q.redirect_uri);
    // Errors about the client or the redirect URI must not redirect (RFC 6749 4.1.2.1).
    if (clientId !== options.clientId) return oauthError(res, 400, 'invalid_client', "The 'client_id' is unknown.");
    if (!redirectUri || !isLocalRedirectUri(redirectUri)) {
      return oauthError(res, 400, 'invalid_request', "The 'redirect_uri' must be an http(s) URL on localhost or 127.0.0.1.");
    }
    const state_ = single(q.state);
    const fail = (error: string, description: string) => {
      const url = new URL(redirectUri);
      url.searchParams.set('error', error);
      url.searchParams.set('error_description', description);
      if (state_ !== undefined) url.searchParams.set('state', state_);
      res.redirect(302, url.toString());
    };
    if (single(q.response_type) !== 'code') return fail('unsupported_response_type', "The 'response_type' must be 'code'.");
    const scope = single(q.scope)?.trim();
    if (!scope) return fail('invalid_scope', "The 'scope' is required.");
    const scopes = scope.split(/\s+/);
    const unknown = scopes.filter((s) => !KNOWN_SCOPES.has(s));
    if (unknown.length) return fail('invalid_scope', `Unknown scope: ${unknown.join(' ')}`);
    if (!state_) return fail('invalid_request', "The 'state' is required.");
    const challenge = single(q.code_challenge);
    const method = single(q.code_challenge_method);
    if (challenge !== undefined || method !== undefined) {
      if (!challenge || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) return fail('invalid_request', "The 'code_challenge' must be a base64url SHA-256 (43 characters).");
      if (method !== 'S256') return fail('invalid_request', "The 'code_challenge_method' must be 'S256'.");
    }
    const code = store.issueCode(state.accountId, clientId, redirectUri, [...new Set(scopes)].join(' '), challenge);
    const url = new URL(redirectUri);
    url.searchParams.set('code', code);
    url.searchParams.set('state', state_);
    res.redirect(302, url.toString());
  });

  router.post('/token', express.urlencoded({ extended: false, limit: '64kb', type: () => true }), (req, res) => {
    state.stats.tokenRequests++;
    if (!store.tokenBucket.take(options.now())) {
      state.stats.tokenThrottled++;
      return oauthError(res, 429, 'too_many_requests', 'Too many token requests; about 1 a second is allowed.');
    }
    if (!req.is('application/x-www-form-urlencoded')) {
      return oauthError(res, 400, 'invalid_request', 'The body must be application/x-www-form-urlencoded.');
    }
    const client = basicAuth(req);
    if (!client || client.id !== options.clientId || !safeEqual(client.secret, options.clientSecret)) {
      res.set('WWW-Authenticate', 'Basic realm="sandbox"');
      return oauthError(res, 401, 'invalid_client', 'Client authentication failed (HTTP Basic with client id and secret).');
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const grantType = single(body.grant_type);
    const issuer = `${req.protocol}://${req.get('host')}/oauth2/default`;
    if (grantType === 'authorization_code') {
      const code = single(body.code);
      const redirectUri = single(body.redirect_uri);
      const verifier = single(body.code_verifier);
      if (!code || !redirectUri) return oauthError(res, 400, 'invalid_request', "'code' and 'redirect_uri' are required.");
      if (verifier !== undefined && !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) {
        return oauthError(res, 400, 'invalid_request', "The 'code_verifier' must be 43 to 128 characters of [A-Za-z0-9._~-].");
      }
      const grant = store.redeemCode(client.id, code, redirectUri, verifier);
      if ('error' in grant) return oauthError(res, 400, grant.error, grant.description);
      return res.set('Cache-Control', 'no-store').json(store.tokenResponse(grant, issuer));
    }
    if (grantType === 'refresh_token') {
      const token = single(body.refresh_token);
      if (!token) return oauthError(res, 400, 'invalid_request', "'refresh_token' is required.");
      const grant = store.redeemRefreshToken(client.id, token);
      if ('error' in grant) return oauthError(res, 400, grant.error, grant.description);
      const requested = single(body.scope);
      if (requested) {
        const granted = new Set(grant.scope.split(' '));
        if (requested.split(/\s+/).some((s) => !granted.has(s))) return oauthError(res, 400, 'invalid_scope', 'The requested scope exceeds the granted scope.');
      }
      return res.set('Cache-Control', 'no-store').json(store.tokenResponse(grant, issuer));
    }
    return oauthError(res, 400, 'unsupported_grant_type', "The 'grant_type' must be authorization_code or refresh_token.");
  });

  router.post('/revoke', express.urlencoded({ extended: false, limit: '64kb', type: () => true }), (req, res) => {
    const client = basicAuth(req);
    if (!client || client.id !== options.clientId || !safeEqual(client.secret, options.clientSecret)) {
      return oauthError(res, 401, 'invalid_client', 'Client authentication failed.');
    }
    const token = single((req.body ?? {}).token);
    if (!token) return oauthError(res, 400, 'invalid_request', "'token' is required.");
    store.revokeToken(token);
    res.status(200).end();
  });

  return router;
}
