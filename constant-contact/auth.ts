import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { StoredTokens, TokenRepository } from '../store/tokens';
import type { TokenSet } from '../store/types';
import { errorFromResponse, type ErrorContext } from './errors';
import type { Pace } from './pacing';
import { tokenResponseSchema } from './schemas';
import { parseBody, type Transport } from './transport';
import { ConstantContactError, type ConstantContactObserver } from './types';

/** The token endpoint allows about one request a second, on its own budget. */
const TOKEN_RATE = { perSecond: 1, perDay: 1_000_000_000 };

/** The `exp` claim of a JWT access token in epoch ms, or undefined when it is not a readable JWT. */
export function jwtExpiresAt(accessToken: string): number | undefined {
  const parts = accessToken.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' && Number.isFinite(payload.exp) ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

const expiresAtOf = (t: TokenSet) => jwtExpiresAt(t.accessToken) ?? t.expiresAt;

export interface AuthDeps {
  config: Config['constantContact'];
  tokens: TokenRepository;
  logger: Logger;
  pace: Pace;
  transport: Transport;
  observer: ConstantContactObserver;
  /** The time used to judge token expiry; leases and pacing use the wall clock. */
  now: () => number;
  refreshMarginMs: number;
  refreshLeaseMs: number;
  refreshPollMs: number;
}

/** What an attempt returns when Constant Contact answered 401. */
export const UNAUTHORIZED = Symbol('unauthorized');

/**
 * The OAuth tokens of the connections: the code exchange, and usable access tokens for the calls.
 * Tokens are refreshed before they expire or after a 401; across processes exactly one refreshes
 * (a lease in the store) and saves the new tokens before anyone uses them; an invalid_grant or a
 * second 401 marks the connection needs-reauthorization.
 */
export function createAuth(deps: AuthDeps) {
  const { config, tokens, logger, pace, transport, observer, now, refreshMarginMs, refreshLeaseMs, refreshPollMs } = deps;
  const authBase = config.authBaseUrl.replace(/\/$/, '');
  const tokenKey = `${config.clientId}:token`;
  const basicAuth = 'Basic ' + Buffer.from(`${config.clientId}:${config.clientSecret}`).toString('base64');
  const instance = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  /** Refreshes in flight in this process, so concurrent calls for one connection share one. */
  const refreshing = new Map<string, Promise<StoredTokens>>();

  /** Calls the token endpoint (paced on its own budget). invalid_grant comes out as needs_reauthorization. */
  async function tokenRequest(form: Record<string, string>, kind: 'exchange' | 'refresh', previous?: TokenSet): Promise<TokenSet> {
    const ctx: ErrorContext = {
      what: kind === 'exchange' ? 'Constant Contact authorization code exchange' : 'Constant Contact token refresh',
      endpoint: 'POST /token',
      oauth: kind,
    };
    await pace(tokenKey, TOKEN_RATE);
    const answer = await transport.send(ctx, new URL(`${authBase}/token`), {
      method: 'POST',
      headers: {
        authorization: basicAuth,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams(form).toString(),
      // A refresh must end well within its lease, whatever the server does.
      timeoutMs: Math.min(30_000, Math.floor(refreshLeaseMs / 2)),
    });
    if (answer.status < 200 || answer.status >= 300) throw errorFromResponse(ctx, answer.status, answer.headers, answer.text, Date.now());
    const t = parseBody(ctx, answer, tokenResponseSchema);
    const expiresAt = jwtExpiresAt(t.access_token) ?? (t.expires_in ? now() + t.expires_in * 1000 : now() + 86_400_000);
    const set: TokenSet = { accessToken: t.access_token, expiresAt };
    const refreshToken = t.refresh_token ?? previous?.refreshToken;
    if (refreshToken) set.refreshToken = refreshToken;
    return set;
  }

  async function currentTokens(connectionId: string): Promise<StoredTokens> {
    const stored = await tokens.read(connectionId);
    if (!stored) throw new ConstantContactError('not_connected', `connection ${connectionId} has no Constant Contact authorization`, false);
    if (stored.status === 'needs-reauthorization') {
      throw new ConstantContactError('needs_reauthorization', `connection ${connectionId} needs a new Constant Contact authorization`, false);
    }
    if (stored.status !== 'connected') throw new ConstantContactError('not_connected', `connection ${connectionId} is not connected`, false);
    return stored;
  }

  /** Tokens good for at least the refresh margin, refreshing first when needed. */
  async function usableTokens(connectionId: string): Promise<StoredTokens> {
    const stored = await currentTokens(connectionId);
    if (expiresAtOf(stored.tokens) - now() > refreshMarginMs) return stored;
    return refreshTokens(connectionId, stored.generation);
  }

  /**
   * New tokens for a connection whose tokens of generation `seen` are (nearly) expired or refused.
   * Exactly one process refreshes (the lease); it saves the new tokens before they are used; the
   * others wait until the generation changes and read them.
   */
  function refreshTokens(connectionId: string, seen: number): Promise<StoredTokens> {
    const inFlight = refreshing.get(connectionId);
    if (inFlight) return inFlight;
    const p = refreshUnderLease(connectionId, seen).finally(() => refreshing.delete(connectionId));
    refreshing.set(connectionId, p);
    return p;
  }

  async function refreshUnderLease(connectionId: string, seen: number): Promise<StoredTokens> {
    const deadline = Date.now() + 2 * refreshLeaseMs + 5_000;
    for (;;) {
      let stored = await currentTokens(connectionId);
      if (stored.generation !== seen) return stored;
      const owner = `${instance}:${randomUUID()}`;
      if (await tokens.acquireRefreshLease(connectionId, owner, refreshLeaseMs, Date.now())) {
        // Someone may have saved between our read and our lease.
        stored = await currentTokens(connectionId).catch(async (err) => {
          await tokens.releaseRefreshLease(connectionId, owner);
          throw err;
        });
        if (stored.generation !== seen) {
          await tokens.releaseRefreshLease(connectionId, owner);
          return stored;
        }
        return refreshAsOwner(connectionId, owner, stored);
      }
      if (Date.now() > deadline) {
        throw new ConstantContactError('network_error', `timed out waiting for another process to refresh the tokens of connection ${connectionId}`, true, 1_000);
      }
      await sleep(refreshPollMs);
    }
  }

  async function refreshAsOwner(connectionId: string, owner: string, stored: StoredTokens): Promise<StoredTokens> {
    const refreshToken = stored.tokens.refreshToken;
    if (!refreshToken) {
      await tokens.releaseRefreshLease(connectionId, owner);
      // Without offline_access there is no refresh token: the access token works until it expires.
      if (expiresAtOf(stored.tokens) > now() + 10_000) return stored;
      return needsReauthorization(connectionId, stored.generation, 'its access token expired and there is no refresh token');
    }
    let fresh: TokenSet;
    try {
      fresh = await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken }, 'refresh', stored.tokens);
    } catch (err) {
      if (err instanceof ConstantContactError && err.code === 'needs_reauthorization') {
        // Marking also frees the lease; when newer tokens were saved meanwhile, use those instead.
        if (!(await tokens.markNeedsReauthorization(connectionId, stored.generation))) {
          await tokens.releaseRefreshLease(connectionId, owner);
          return currentTokens(connectionId);
        }
        logger.warn({ connectionId }, 'connection needs re-authorization: the refresh token was refused (invalid_grant)');
        observer.needsReauthorization?.(connectionId, stored.generation);
        throw new ConstantContactError('needs_reauthorization', `connection ${connectionId} needs a new Constant Contact authorization: the refresh token was refused (invalid_grant)`, false, undefined, err.status);
      }
      await tokens.releaseRefreshLease(connectionId, owner);
      throw err;
    }
    // Persist before use: if this fails, nobody ever uses the new tokens.
    const generation = await tokens.saveRefreshed(connectionId, owner, fresh);
    if (generation === undefined) {
      logger.warn({ connectionId }, 'refresh lease lost before the refreshed tokens were saved');
      throw new ConstantContactError('network_error', `the refresh lease of connection ${connectionId} expired before the new tokens were saved`, true, 1_000);
    }
    logger.info({ connectionId, generation }, 'refreshed Constant Contact tokens');
    return { tokens: fresh, generation, status: 'connected' };
  }

  async function needsReauthorization(connectionId: string, generation: number, why: string): Promise<never> {
    const marked = await tokens.markNeedsReauthorization(connectionId, generation);
    if (marked) {
      logger.warn({ connectionId }, `connection needs re-authorization: ${why}`);
      observer.needsReauthorization?.(connectionId, generation);
    } else {
      // Newer tokens were saved meanwhile (a new authorization): let the caller try again with them.
      const current = await tokens.read(connectionId);
      if (current && current.status === 'connected' && current.generation !== generation) {
        throw new ConstantContactError('network_error', `the tokens of connection ${connectionId} changed during the call; try again`, true, 0);
      }
    }
    throw new ConstantContactError('needs_reauthorization', `connection ${connectionId} needs a new Constant Contact authorization: ${why}`, false, undefined, 401);
  }

  /**
   * Runs `attempt` with a usable access token. When it reports a 401 (returns UNAUTHORIZED), the
   * tokens are refreshed once and it runs again; a second 401 marks the connection
   * needs-reauthorization.
   */
  async function authorized<T>(connectionId: string, attempt: (accessToken: string) => Promise<T | typeof UNAUTHORIZED>): Promise<T> {
    let stored = await usableTokens(connectionId);
    for (let i = 0; ; i++) {
      const result = await attempt(stored.tokens.accessToken);
      if (result !== UNAUTHORIZED) return result;
      if (i === 0) {
        stored = await refreshTokens(connectionId, stored.generation);
        continue;
      }
      return needsReauthorization(connectionId, stored.generation, 'Constant Contact refused the refreshed access token (401)');
    }
  }

  return { tokenRequest, authorized };
}

export type Auth = ReturnType<typeof createAuth>;
