import { z } from 'zod';
import { pageQuery } from '../../common/paging';
import type { AppDeps } from '../deps';
import type { RouteRegistry } from '../http';

/**
 * The audit log (admins): every change an admin or a contributor made, newest first. Who is the
 * role and the fingerprint of the credential (never the credential); the summary says what
 * changed without values (field names, counts, a decision), so no secret and no profile value.
 */

const entrySchema = z.object({
  id: z.string(),
  at: z.string().describe('ISO 8601 UTC time of the change'),
  requestId: z.string().nullable().describe('the x-request-id of the request that made it'),
  actor: z.object({
    role: z.enum(['admin', 'contributor']).nullable(),
    key: z.string().nullable().describe('fingerprint of the API key (12 hex digits of a hash), never the key'),
  }),
  action: z.string().describe('e.g. export.create, connection.authorize, run.start, run.removals.decide, profile.delete, profiles.import'),
  resourceType: z.string(),
  resourceId: z.string().nullable(),
  summary: z.record(z.string(), z.unknown()).describe('what changed, without values: field names, counts, a decision'),
});

export function registerAuditRoutes(routes: RouteRegistry, deps: AppDeps): void {
  routes.add(
    {
      method: 'get',
      path: '/v1/audit',
      summary: 'The audit log: who changed what and when, newest first',
      tag: 'audit',
      roles: ['admin'],
      query: pageQuery,
      response: { status: 200, schema: z.object({ items: z.array(entrySchema), nextCursor: z.string().nullable() }) },
    },
    async ({ query }) => deps.store.audit.list({ limit: query.limit, cursor: query.cursor }),
  );
}
