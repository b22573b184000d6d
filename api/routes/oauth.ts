import type { Request, Response } from 'express';
import { z } from 'zod';
import { createPkcePair } from '../../constant-contact/pkce';
import { constantContactErrorCode, isRetryable } from '../constant-contact';
import type { AppDeps } from '../deps';
import { ApiError, notFound } from '../errors';
import type { RouteRegistry } from '../http';
import { connectionIdSchema } from '../schemas/exports';

/**
 * The browser half of authorizing a connection. `authorizeUrl` carries a single-use ticket (10
 * minutes, stored hashed); `GET …/authorize?ticket` answers 302 to Constant Contact with a fresh
 * single-use `state` (stored hashed) and a PKCE S256 challenge (the verifier is stored sealed); the
 * callback exchanges the code and stores the tokens encrypted. Tickets, states, codes and tokens
 * never reach a response body or a log line (the request log records the path only).
 */

export const OAUTH_STATE_TTL_MS = 10 * 60_000;

const idParams = z.object({ id: connectionIdSchema }).strict();

export function registerAuthorizationRoutes(routes: RouteRegistry, deps: AppDeps): void {
  const { store } = deps;
  const now = () => (deps.clock ? deps.clock() : new Date());

  routes.add(
    {
      method: 'get',
      path: '/v1/connections/:id/authorize',
      summary: "The admin's browser: redeems the single-use ticket and redirects to Constant Contact's authorize page",
      tag: 'connections',
      roles: 'public',
      params: idParams,
      query: z.object({ ticket: z.string().min(1).max(256) }),
      response: { status: 302, description: "redirect to Constant Contact's authorize URL (state and PKCE S256 challenge)" },
      errors: { 400: 'invalid_ticket: unknown, used or expired ticket' },
    },
    async ({ req, res, params, query }) =>
      forBrowser(req, res, async () => {
        const at = now();
        const grant = await store.connections.redeemTicket(params.id, query.ticket, at);
        if (!grant) {
          throw new ApiError(400, 'invalid_ticket', 'this authorization link is unknown, used or expired; get a new one with POST /v1/connections/{id}/reauthorize');
        }
        const pkce = createPkcePair();
        const state = await store.connections.beginAuthorization(params.id, pkce.codeVerifier, { now: at, ttlMs: OAUTH_STATE_TTL_MS, ...grant });
        noStore(res);
        res.redirect(302, deps.constantContact.authorizeUrl({ state, codeChallenge: pkce.codeChallenge }));
      }),
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/oauth/constant-contact/callback',
      summary: 'Constant Contact redirects the browser here: exchanges the code and stores the tokens encrypted',
      tag: 'connections',
      roles: 'public',
      query: z.object({
        code: z.string().min(1).max(4096).optional(),
        state: z.string().min(1).max(512).optional(),
        error: z.string().max(200).optional(),
        error_description: z.string().max(2000).optional(),
      }),
      response: { status: 200, contentType: 'text/html', description: 'a short page saying the connection is connected' },
      errors: {
        400: 'invalid_state (unknown, used or expired), authorization_denied, or authorization_failed; nothing is stored',
        409: 'account_changed: the authorization is for another Constant Contact account than the connection; nothing is stored (an admin allows it with POST /v1/connections/{id}/reauthorize {"allowAccountChange": true})',
        502: 'Constant Contact did not answer the code exchange',
      },
    },
    async ({ req, res, query, requestId }) =>
      forBrowser(req, res, async () => {
        noStore(res);
        if (!query.state) throw invalidState();
        const pending = await store.connections.completeAuthorization(query.state, now());
        if (!pending) throw invalidState();
        if (query.error !== undefined) {
          const denied = query.error === 'access_denied';
          throw new ApiError(
            400,
            denied ? 'authorization_denied' : 'authorization_failed',
            denied
              ? 'the authorization was denied in Constant Contact; nothing was stored. Start again with POST /v1/connections/{id}/reauthorize'
              : `Constant Contact answered ${/^[a-z_]{1,64}$/.test(query.error) ? query.error : 'an error'}; nothing was stored. Start again with POST /v1/connections/{id}/reauthorize`,
          );
        }
        if (!query.code) throw new ApiError(400, 'authorization_failed', 'the callback carries no code; nothing was stored');
        const code = query.code;
        const tokens = await fromConstantContact('the code exchange', () => deps.constantContact.exchangeCode({ code, codeVerifier: pending.codeVerifier }));
        // Which account the admin logged in to: a connection stays with its account unless allowed.
        const accountId = await fromConstantContact('reading the account', () => deps.constantContact.accountId(tokens));
        const connection = await store.connections.get(pending.connectionId);
        if (!connection) throw notFound('connection');
        const saved = await store.tokens.saveAuthorization(pending.connectionId, tokens, { accountId, allowChange: pending.allowAccountChange });
        if (saved === 'account_changed') {
          throw new ApiError(
            409,
            'account_changed',
            `this authorization is for another Constant Contact account than the one connection ${connection.id} uses; nothing was stored. To move the connection to that account, an admin gets a link with POST /v1/connections/${connection.id}/reauthorize {"allowAccountChange": true}`,
          );
        }
        const accountChanged = connection.accountId !== null && connection.accountId !== accountId;
        // The browser has no key: the authorization is recorded as the admin's who issued the link.
        await routes.audit({ requestId, actor: pending.issuedBy, action: 'connection.authorize', resourceType: 'connection', resourceId: pending.connectionId, summary: { accountChanged } });
        res
          .status(200)
          .type('html')
          .send(page('Connected', `<strong>${escapeHtml(connection.displayName)}</strong> is connected to Constant Contact. You can close this window.`, CONSOLE_RETURN));
      }),
  );
}

/** A Constant Contact call of the callback: a refusal is 400 `authorization_failed`, an outage 502; nothing is stored either way. */
async function fromConstantContact<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const code = constantContactErrorCode(err);
    if (code && isRetryable(err)) throw new ApiError(502, 'constant_contact_unavailable', `Constant Contact did not complete ${what}; start again with a new authorize URL`);
    if (code) throw new ApiError(400, 'authorization_failed', `Constant Contact refused ${what}; nothing was stored. Start again with POST /v1/connections/{id}/reauthorize`);
    throw err;
  }
}

const invalidState = () =>
  new ApiError(400, 'invalid_state', 'this authorization is unknown, used or expired; nothing was stored. Start again with POST /v1/connections/{id}/reauthorize');

function noStore(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  // The callback URL carries the code: never send it on as a Referer.
  res.setHeader('Referrer-Policy', 'no-referrer');
}

/**
 * Browser routes answer errors as a short HTML page to a browser (Accept prefers text/html) and as
 * the usual JSON error body to everyone else.
 */
async function forBrowser(req: Request, res: Response, handle: () => Promise<void>): Promise<undefined> {
  try {
    await handle();
  } catch (err) {
    if (err instanceof ApiError && req.accepts(['json', 'html']) === 'html' && !res.headersSent) {
      noStore(res);
      res.status(err.status).type('html').send(page('Not connected', escapeHtml(err.message)));
      return undefined;
    }
    throw err;
  }
  return undefined;
}

/** The console started the authorization in this tab: its script goes back there. */
const CONSOLE_RETURN = '<script src="/console/oauth-return.js"></script>';

function page(title: string, bodyHtml: string, extraHtml = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1><p>${bodyHtml}</p>
<p><a id="console-link" href="/console/#/connections">Back to the console</a></p>${extraHtml}</body></html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}
