import { z } from 'zod';
import { pageQuery } from '../../common/paging';
import type { Connection, Role } from '../../store/types';
import type { Principal } from '../auth';
import { visibleConnection } from '../access';
import { assertConnected, callConstantContact } from '../constant-contact';
import type { AppDeps } from '../deps';
import { ApiError, notFound } from '../errors';
import type { RouteRegistry } from '../http';
import { connectionIdSchema } from '../schemas/exports';
import { registerAuthorizationRoutes } from './oauth';

/**
 * Connections to Constant Contact accounts.
 *
 * Roles: admins do everything. Contributors see only `{id, displayName}` of the connections shared
 * with them and may read those connections' lists and custom fields (api/access.ts). Creating,
 * changing, re-authorizing and removing are admin-only (403 `forbidden` for a contributor). The
 * browser routes that authorize a connection are in ./oauth.ts.
 */

export const AUTHORIZE_TICKET_TTL_MS = 10 * 60_000;

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
const reauthorizeBody = z
  .object({
    allowAccountChange: z
      .boolean()
      .default(false)
      .describe('true: this link may move the connection to another Constant Contact account (otherwise such an authorization is refused)'),
  })
  .strict();

const connectionSchema = z.object({
  id: z.string(),
  displayName: z.string(),
  usableBy: usableBySchema,
  status: z.enum(['pending-authorization', 'connected', 'needs-reauthorization']),
  accountId: z.string().nullable().describe("the Constant Contact account (encoded_account_id) it is authorized for; null before the first authorization"),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const connectionSummarySchema = z.object({ id: z.string(), displayName: z.string() });
const connectionForRole = z.union([connectionSchema, connectionSummarySchema]).describe('admins get the whole connection; contributors only id and displayName');

export function registerConnectionsRoutes(routes: RouteRegistry, deps: AppDeps): void {
  const { store, config } = deps;
  const now = () => (deps.clock ? deps.clock() : new Date());

  const authorizeUrlFor = async (connectionId: string, issuer: Principal | undefined, allowAccountChange = false) => {
    const issuedBy = { role: issuer?.role ?? null, key: issuer?.fingerprint ?? null };
    const ticket = await store.connections.issueTicket(connectionId, { now: now(), ttlMs: AUTHORIZE_TICKET_TTL_MS, issuedBy, allowAccountChange });
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
      audit: { action: 'connection.create', resource: 'connection' },
    },
    async ({ body, res, principal }) => {
      const connection = await store.connections.create({ displayName: body.displayName, usableBy: body.usableBy, now: now().toISOString() });
      res.setHeader('Cache-Control', 'no-store');
      return { ...adminView(connection), authorizeUrl: await authorizeUrlFor(connection.id, principal) };
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
      audit: { action: 'connection.update', resource: 'connection' },
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
      audit: { action: 'connection.delete', resource: 'connection', summary: ({ query }) => ({ detachExports: query.detachExports }) },
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
      description:
        'The authorization must land on the Constant Contact account the connection is authorized for; with `allowAccountChange: true` this link may move it to another account (the callback answers 409 `account_changed` otherwise, storing nothing).',
      tag: 'connections',
      roles: ADMIN,
      params: idParams,
      body: reauthorizeBody,
      response: { status: 200, schema: z.object({ authorizeUrl: z.string() }) },
      errors: { 404: 'no such connection' },
      audit: { action: 'connection.reauthorize', resource: 'connection', summary: ({ body }) => ({ allowAccountChange: body.allowAccountChange }) },
    },
    async ({ params, body, res, principal }) => {
      const connection = await store.connections.get(params.id);
      if (!connection) throw notFound('connection');
      res.setHeader('Cache-Control', 'no-store');
      return { authorizeUrl: await authorizeUrlFor(connection.id, principal, body.allowAccountChange) };
    },
  );

  registerAuthorizationRoutes(routes, deps);

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

// ---------------------------------------------------------------- views and pages

function adminView(c: Connection) {
  return { id: c.id, displayName: c.displayName, usableBy: c.usableBy, status: c.status, accountId: c.accountId, createdAt: c.createdAt, updatedAt: c.updatedAt };
}

function viewFor(c: Connection, role: Role | undefined) {
  return role === 'admin' ? adminView(c) : { id: c.id, displayName: c.displayName };
}
