import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { ApiError } from '../errors';
import type { ConsoleSession } from '../../store/console-sessions';
import type { Role } from '../../store/types';
import type { AppDeps } from '../deps';
import type { RouteRegistry } from '../http';
import { keyFingerprint, type CredentialKind } from '../auth';

/**
 * The console's sign-in: an API key is exchanged once for a random session id in a cookie
 * (HttpOnly, SameSite=Strict, Path=/, Secure over HTTPS, Max-Age CONSOLE_SESSION_TTL_SECONDS). The
 * /v1 API then accepts the cookie wherever it accepts a Bearer key, with the same roles. Because a
 * browser sends cookies by itself, every state-changing request authenticated by the cookie must
 * also carry the session's CSRF token in `X-CSRF-Token` (403 `csrf_failed` otherwise); the page
 * learns the token from the sign-in answer or from GET /console/session, which other sites cannot
 * read.
 *
 * Sessions live in the store (hashed id, role, fingerprint of the key, expiry), so every API process
 * behind a load balancer agrees. A session whose key is no longer configured with the same role
 * ends at its next use.
 */

export const SESSION_PATH = '/console/session';
export const SESSION_COOKIE = 'segexp_session';
export const CSRF_HEADER = 'x-csrf-token';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const digest = (text: string, encoding: 'hex' | 'base64url') => createHash('sha256').update(text).digest(encoding);
const idHashOf = (sessionId: string) => digest(`session:${sessionId}`, 'hex');
/** Binds a session to the key it was signed in with (a full digest: the key is never stored). */
export const keyDigest = (key: string) => digest(`api-key:${key}`, 'hex');
/** Derived from the secret session id, so it needs no storage and changes with every session. */
export const csrfTokenFor = (sessionId: string) => digest(`csrf:${sessionId}`, 'base64url');

/** What the session middleware leaves in res.locals for the session routes. */
interface SignedIn {
  sessionId: string;
  session: ConsoleSession;
}

export function consoleSessions(deps: AppDeps) {
  const now = () => (deps.clock ? deps.clock() : new Date());
  const keysByDigest = new Map((deps.config.apiKeys ?? []).map((k) => [keyDigest(k.key), { role: k.role as Role, fingerprint: keyFingerprint(k.key) }]));
  const ttlSeconds = deps.config.console.sessionTtlSeconds;

  /** The live session of this cookie value; a session of a key no longer configured is removed. */
  const resolve = async (sessionId: string): Promise<ConsoleSession | undefined> => {
    const session = await deps.store.consoleSessions.find(idHashOf(sessionId), now().toISOString());
    if (!session) return undefined;
    if (keysByDigest.get(session.keyFingerprint)?.role !== session.role) {
      await deps.store.consoleSessions.delete(session.idHash);
      return undefined;
    }
    return session;
  };

  /** The credential kind after API keys: a request without a key may be signed in by the cookie. */
  const credential: CredentialKind = async (req: Request, res: Response) => {
    // A request naming a key is judged by the key alone; signing in reads the key from the body.
    if (req.header('authorization') !== undefined || (req.method === 'POST' && req.path === SESSION_PATH)) return undefined;
    const sessionId = readCookie(req, SESSION_COOKIE);
    const session = sessionId ? await resolve(sessionId) : undefined;
    if (!sessionId || !session) return undefined;
    if (STATE_CHANGING.has(req.method) && !sameText(req.header(CSRF_HEADER), csrfTokenFor(sessionId))) {
      throw new ApiError(403, 'csrf_failed', `a request signed in by the console session must carry its CSRF token in the ${CSRF_HEADER} header`);
    }
    res.locals.consoleSession = { sessionId, session } satisfies SignedIn;
    return { role: session.role, credential: 'console-session', fingerprint: keysByDigest.get(session.keyFingerprint)!.fingerprint };
  };

  const sessionView = (signedIn: SignedIn) => ({
    role: signedIn.session.role,
    csrfToken: csrfTokenFor(signedIn.sessionId),
    expiresAt: signedIn.session.expiresAt,
  });

  const register = (routes: RouteRegistry) => {
    const sessionSchema = z.object({
      role: z.enum(['admin', 'contributor']),
      csrfToken: z.string().describe(`send it in the ${CSRF_HEADER} header with every POST, PUT, PATCH and DELETE`),
      expiresAt: z.string(),
    });

    routes.add(
      {
        method: 'post',
        path: SESSION_PATH,
        summary: 'Console sign-in: exchanges an API key for a session cookie and a CSRF token',
        tag: 'console',
        roles: 'public',
        body: z.strictObject({ apiKey: z.string().min(1).max(512) }),
        response: { status: 201, schema: sessionSchema },
        errors: { 401: 'unauthorized: the key is not configured' },
      },
      async ({ req, res, body }) => {
        const keyFp = keyDigest(body.apiKey);
        const role = keysByDigest.get(keyFp)?.role;
        if (!role) throw new ApiError(401, 'unauthorized', 'this API key is not valid', [{ path: ['body', 'apiKey'], message: 'not a valid API key' }]);
        const at = now();
        const sessionId = randomBytes(32).toString('base64url');
        const session: ConsoleSession = {
          idHash: idHashOf(sessionId),
          role,
          keyFingerprint: keyFp,
          createdAt: at.toISOString(),
          expiresAt: new Date(at.getTime() + ttlSeconds * 1000).toISOString(),
        };
        await deps.store.consoleSessions.create(session);
        res.setHeader('Cache-Control', 'no-store');
        res.setHeader('Set-Cookie', sessionCookie(sessionId, ttlSeconds, req.secure));
        return sessionView({ sessionId, session });
      },
    );

    routes.add(
      {
        method: 'get',
        path: SESSION_PATH,
        summary: "The console session of this browser's cookie: role, CSRF token and expiry",
        tag: 'console',
        roles: 'public',
        response: { status: 200, schema: sessionSchema },
        errors: { 401: 'unauthorized: no session, or it ended' },
      },
      async ({ req, res }) => {
        res.setHeader('Cache-Control', 'no-store');
        const signedIn = res.locals.consoleSession as SignedIn | undefined;
        if (!signedIn) {
          if (readCookie(req, SESSION_COOKIE)) res.setHeader('Set-Cookie', sessionCookie('', 0, req.secure));
          throw new ApiError(401, 'unauthorized', 'not signed in, or the session ended: sign in with an API key');
        }
        return sessionView(signedIn);
      },
    );

    routes.add(
      {
        method: 'delete',
        path: SESSION_PATH,
        summary: 'Console sign-out: ends the session of this cookie',
        tag: 'console',
        roles: 'public',
        response: { status: 204, description: 'signed out (also when there was no session)' },
        errors: { 403: 'csrf_failed' },
      },
      async ({ req, res }) => {
        const signedIn = res.locals.consoleSession as SignedIn | undefined;
        if (signedIn) await deps.store.consoleSessions.delete(signedIn.session.idHash);
        res.setHeader('Set-Cookie', sessionCookie('', 0, req.secure));
        return undefined;
      },
    );
  };

  return { credential, register };
}

function sessionCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return [`${SESSION_COOKIE}=${value}`, 'Path=/', `Max-Age=${maxAgeSeconds}`, 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])].join('; ');
}

function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.header('cookie') ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim() || undefined;
  }
  return undefined;
}

function sameText(given: string | undefined, expected: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
