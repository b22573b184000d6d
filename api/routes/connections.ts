import type { Request, Response } from 'express';
import { z } from 'zod';
import { ApiError, notFound } from '../../common/errors';
import { pageQuery } from '../../common/paging';
import { createPkcePair } from '../../constant-contact/pkce';
import type { ConstantContactErrorCode } from '../../constant-contact/types';
import type { Connection, Export, Role } from '../../store/types';
import type { AppDeps } from '../deps';
import type { RouteRegistry } from '../http';
import { connectionIdSchema } from '../schemas/exports';

/**
 * Connections to Constant Contact accounts (api.md, Connections).
 *
 * Roles: admins do everything. Contributors see only `{id, displayName}` of the connections shared
 * with them (usableBy `admins-and-contributors`) and may read those connections' lists and custom
 * fields; a connection not shared with them answers 404 `not_found` exactly like one that does not
 * exist, so its existence is not disclosed. Creating, changing, re-authorizing and removing are
 * admin-only (403 `forbidden` for a contributor).
 *
 * The browser handshake: `authorizeUrl` carries a single-use ticket (10 minutes, stored hashed);
 * `GET …/authorize?ticket` answers 302 to Constant Contact with a fresh single-use `state` (stored
 * hashed) and a PKCE S256 challenge (the verifier is stored sealed); the callback exchanges the code
 * and stores the tokens encrypted. Tickets, states, codes and tokens never reach a response body or
 * a log line (the request log records the path only).
 */

export const AUTHORIZE_TICKET_TTL_MS = 10 * 60_000;
export const OAUTH_STATE_TTL_MS = 10 * 60_000;

const ADMIN = ['admin'] as const;
const EVERYONE = ['admin', 'contributor'] as const;

const usableBySchema = z.enum(['admins', 'admins-and-contributors']);
const displayNameSchema = z.string().trim().min(1).max(200);

const createBody = z
  .object({
    displayName: displayNameSchema,
    usableBy: usableBySchema.default('admins').describe('who may configure exports on it (default admins)'),
    dataPrivacyConsent: z.literal(true, 'dataPrivacyConsent must be true: profile data (emails, names, custom fields) will be sent to Constant Contact'),
  })
  .strict();

const patchBody = z
  .object({ displayName: displayNameSchema.optional(), usableBy: usableBySchema.optional() })
  .strict()
  .refine((p) => p.displayName !== undefined || p.usableBy !== undefined, { message: 'name at least one field to change: displayName or usableBy' });

const idParams = z.object({ id: connectionIdSchema }).strict();
const emptyBody = z.object({}).strict();

const connectionSchema = z.object({
  id: z.string(),
  displayName: z.string(),
  usableBy: usableBySchema,
  status: z.enum(['pending-authorization', 'connected', 'needs-reauthorization']),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const connectionSummarySchema = z.object({ id: z.string(), displayName: z.string() });
const connectionForRole = z.union([connectionSchema, connectionSummarySchema]).describe('admins get the whole connection; contributors only id and displayName');

export function registerConnectionsRoutes(routes: RouteRegistry, deps: AppDeps): void {
  const { store, config } = deps;
  const now = () => (deps.clock ? deps.clock() : new Date());

  const authorizeUrlFor = async (connectionId: string) => {
    const ticket = await store.connections.issueTicket(connectionId, { now: now(), ttlMs: AUTHORIZE_TICKET_TTL_MS });
    return `${config.publicBaseUrl}/v1/connections/${connectionId}/authorize?ticket=${encodeURIComponent(ticket)}`;
  };

  routes.add(
    {
      method: 'post',
      path: '/v1/connections',
      summary: 'Create a connection and get the URL an admin opens in a browser to authorize it',
      tag: 'connections',
      roles: ADMIN,
      body: createBody,
      response: { status: 201, schema: connectionSchema.extend({ authorizeUrl: z.string() }) },
    },
    async ({ body, res }) => {
      const connection = await store.connections.create({ displayName: body.displayName, usableBy: body.usableBy, now: now().toISOString() });
      res.setHeader('Cache-Control', 'no-store');
      return { ...adminView(connection), authorizeUrl: await authorizeUrlFor(connection.id) };
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/connections',
      summary: 'List connections (contributors: only id and displayName of those shared with them)',
      tag: 'connections',
      roles: EVERYONE,
      query: pageQuery,
      response: { status: 200, schema: z.object({ items: z.array(connectionForRole), nextCursor: z.string().nullable() }) },
    },
    async ({ query, role }) => {
      const page = await store.connections.list({ ...query, usableBy: role === 'admin' ? undefined : 'admins-and-contributors' });
      return { items: page.items.map((c) => viewFor(c, role)), nextCursor: page.nextCursor };
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/connections/:id',
      summary: 'Read a connection (contributors: only id and displayName, when shared with them)',
      tag: 'connections',
      roles: EVERYONE,
      params: idParams,
      response: { status: 200, schema: connectionForRole },
      errors: { 404: 'no such connection, or not shared with the caller' },
    },
    async ({ params, role }) => viewFor(await visibleConnection(deps, params.id, role), role),
  );

  routes.add(
    {
      method: 'patch',
      path: '/v1/connections/:id',
      summary: 'Change the display name or who may use the connection',
      tag: 'connections',
      roles: ADMIN,
      params: idParams,
      body: patchBody,
      response: { status: 200, schema: connectionSchema },
      errors: { 404: 'no such connection' },
    },
    async ({ params, body }) => {
      const updated = await store.connections.update(params.id, body, now().toISOString());
      if (!updated) throw notFound('connection');
      return adminView(updated);
    },
  );

  routes.add(
    {
      method: 'delete',
      path: '/v1/connections/:id',
      summary: 'Remove a connection; with detachExports=true its exports keep their settings without a connection and do not run',
      tag: 'connections',
      roles: ADMIN,
      params: idParams,
      query: z.object({ detachExports: z.enum(['true', 'false']).default('false').transform((v) => v === 'true') }),
      response: { status: 204, description: 'removed' },
      errors: { 404: 'no such connection', 409: 'connection_in_use: exports use it (details name them); pass detachExports=true' },
    },
    async ({ params, query }) => {
      const result = await store.connections.remove(params.id, { detachExports: query.detachExports, now: now().toISOString() });
      if (!result) throw notFound('connection');
      if (!result.removed) {
        throw new ApiError(
          409,
          'connection_in_use',
          `exports use this connection: ${result.exportIds.join(', ')}; remove them, or remove the connection with ?detachExports=true`,
          [{ exportIds: result.exportIds }],
        );
      }
      for (const exportId of result.detachedExportIds) {
        const detached = await store.exports.get(exportId);
        if (detached) await deps.exportHooks?.onExportSaved?.(detached, 'detached');
      }
      return undefined;
    },
  );

  routes.add(
    {
      method: 'post',
      path: '/v1/connections/:id/reauthorize',
      summary: 'A fresh authorize URL (single-use ticket) to authorize the connection again',
      tag: 'connections',
      roles: ADMIN,
      params: idParams,
      body: emptyBody,
      response: { status: 200, schema: z.object({ authorizeUrl: z.string() }) },
      errors: { 404: 'no such connection' },
    },
    async ({ params, res }) => {
      const connection = await store.connections.get(params.id);
      if (!connection) throw notFound('connection');
      res.setHeader('Cache-Control', 'no-store');
      return { authorizeUrl: await authorizeUrlFor(connection.id) };
    },
  );

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
        if (!(await store.connections.redeemTicket(params.id, query.ticket, at))) {
          throw new ApiError(400, 'invalid_ticket', 'this authorization link is unknown, used or expired; get a new one with POST /v1/connections/{id}/reauthorize');
        }
        const pkce = createPkcePair();
        const state = await store.connections.beginAuthorization(params.id, pkce.codeVerifier, { now: at, ttlMs: OAUTH_STATE_TTL_MS });
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
        502: 'Constant Contact did not answer the code exchange',
      },
    },
    async ({ req, res, query }) =>
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
        let tokens;
        try {
          tokens = await deps.constantContact.exchangeCode({ code: query.code, codeVerifier: pending.codeVerifier });
        } catch (err) {
          const code = constantContactErrorCode(err);
          if (code && isRetryable(err)) throw new ApiError(502, 'constant_contact_unavailable', 'Constant Contact did not complete the code exchange; start again with a new authorize URL');
          if (code) throw new ApiError(400, 'authorization_failed', 'Constant Contact refused the authorization code; nothing was stored. Start again with POST /v1/connections/{id}/reauthorize');
          throw err;
        }
        const connection = await store.connections.get(pending.connectionId);
        if (!connection) throw notFound('connection');
        await store.tokens.save(pending.connectionId, tokens);
        res
          .status(200)
          .type('html')
          .send(page('Connected', `<strong>${escapeHtml(connection.displayName)}</strong> is connected to Constant Contact. You can close this window.`, CONSOLE_RETURN));
      }),
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/connections/:id/lists',
      summary: "The account's Constant Contact lists, to pick an export's list id",
      tag: 'connections',
      roles: EVERYONE,
      params: idParams,
      response: {
        status: 200,
        schema: z.object({ items: z.array(z.object({ listId: z.string(), name: z.string(), memberCount: z.number() })) }),
      },
      errors: { 404: 'no such connection, or not shared with the caller', 422: 'connection_not_connected', 502: 'Constant Contact did not answer', 503: 'Constant Contact rate limit' },
    },
    async ({ params, role, res }) => {
      const connection = await visibleConnection(deps, params.id, role);
      assertConnected(connection);
      const lists = await callConstantContact(res, connection, () => deps.constantContact.listLists(connection.id));
      return { items: lists.map((l) => ({ listId: l.listId, name: l.name, memberCount: l.memberCount })) };
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/connections/:id/custom-fields',
      summary: "The account's Constant Contact custom fields, to map profile attributes to",
      tag: 'connections',
      roles: EVERYONE,
      params: idParams,
      response: {
        status: 200,
        schema: z.object({ items: z.array(z.object({ name: z.string(), label: z.string(), type: z.string() })) }),
      },
      errors: { 404: 'no such connection, or not shared with the caller', 422: 'connection_not_connected', 502: 'Constant Contact did not answer', 503: 'Constant Contact rate limit' },
    },
    async ({ params, role, res }) => {
      const connection = await visibleConnection(deps, params.id, role);
      assertConnected(connection);
      const fields = await callConstantContact(res, connection, () => deps.constantContact.listCustomFields(connection.id));
      return { items: fields.map((f) => ({ name: f.name, label: f.label, type: f.type })) };
    },
  );
}

// ---------------------------------------------------------------- shared with the exports routes

/** Whether the role may use the connection (configure exports on it, read its lists). */
export function canUse(connection: Connection, role: Role | undefined): boolean {
  return role === 'admin' || (role === 'contributor' && connection.usableBy === 'admins-and-contributors');
}

/** The connection when the caller may see it; 404 `not_found` otherwise (not shared looks like absent). */
export async function visibleConnection(deps: AppDeps, id: string, role: Role | undefined): Promise<Connection> {
  const connection = await deps.store.connections.get(id);
  if (!connection || !canUse(connection, role)) throw notFound('connection');
  return connection;
}

/**
 * The export when the caller may act on it: admins always; contributors only on a connection shared
 * with them (a detached export has none). 404 otherwise. Deleted exports only for reading history.
 */
export async function visibleExport(
  deps: AppDeps,
  id: string,
  role: Role | undefined,
  options: { includeDeleted?: boolean } = {},
): Promise<Export> {
  const exp = await deps.store.exports.get(id, { includeDeleted: options.includeDeleted });
  if (!exp) throw notFound('export');
  if (role !== 'admin') {
    const connection = exp.connectionId ? await deps.store.connections.get(exp.connectionId) : undefined;
    if (!connection || !canUse(connection, role)) throw notFound('export');
  }
  return exp;
}

export function assertConnected(connection: Connection): void {
  if (connection.status !== 'connected') {
    throw new ApiError(
      422,
      'connection_not_connected',
      connection.status === 'needs-reauthorization'
        ? `connection ${connection.id} needs re-authorization: an admin opens the URL from POST /v1/connections/${connection.id}/reauthorize`
        : `connection ${connection.id} is not authorized yet: an admin opens its authorizeUrl`,
    );
  }
}

export function constantContactErrorCode(err: unknown): ConstantContactErrorCode | undefined {
  const e = err as { name?: unknown; code?: unknown } | null;
  return e && e.name === 'ConstantContactError' && typeof e.code === 'string' ? (e.code as ConstantContactErrorCode) : undefined;
}

const isRetryable = (err: unknown) => (err as { retryable?: unknown }).retryable === true;

/**
 * Calls Constant Contact for a request and turns its typed failures into API errors: a connection
 * that lost its authorization is 422 `connection_not_connected`; throttling 503 with Retry-After;
 * other failures 502. `onNotFound` maps a 404 of Constant Contact (e.g. 422 `list_not_found`).
 */
export async function callConstantContact<T>(res: Response, connection: Connection, call: () => Promise<T>, onNotFound?: () => ApiError): Promise<T> {
  try {
    return await call();
  } catch (err) {
    const code = constantContactErrorCode(err);
    if (!code) throw err;
    switch (code) {
      case 'not_found':
        if (onNotFound) throw onNotFound();
        break;
      case 'needs_reauthorization':
      case 'not_connected':
        throw new ApiError(
          422,
          'connection_not_connected',
          `connection ${connection.id} needs re-authorization: an admin opens the URL from POST /v1/connections/${connection.id}/reauthorize`,
        );
      case 'throttled':
      case 'daily_quota_exhausted': {
        const retryAfterMs = (err as { retryAfterMs?: number }).retryAfterMs;
        if (retryAfterMs && retryAfterMs > 0) res.setHeader('Retry-After', String(Math.ceil(retryAfterMs / 1000)));
        throw new ApiError(503, 'constant_contact_busy', 'the Constant Contact rate limit is reached; try again later');
      }
    }
    throw new ApiError(502, 'constant_contact_error', `Constant Contact did not complete the request (${code}); try again later`);
  }
}

// ---------------------------------------------------------------- views and pages

function adminView(c: Connection) {
  return { id: c.id, displayName: c.displayName, usableBy: c.usableBy, status: c.status, createdAt: c.createdAt, updatedAt: c.updatedAt };
}

function viewFor(c: Connection, role: Role | undefined) {
  return role === 'admin' ? adminView(c) : { id: c.id, displayName: c.displayName };
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
