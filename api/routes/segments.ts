import { z } from 'zod';
import { conflict, notFound } from '../errors';
import { decodeCursor, encodeCursor, pageQuery } from '../../common/paging';
import { storableText, UNSTORABLE } from '../../store/rules';
import { ruleSchema, type Rule } from '../../store/rules';
import type { Segment } from '../../store/types';
import type { AppDeps } from '../deps';
import type { RouteRegistry } from '../http';

/**
 * Segments: admins write, contributors read. A segment's membership is what
 * its last refresh materialized; memberCount and refreshedAt are null until the first refresh and
 * again after the rule changes.
 */

const ADMIN = ['admin'] as const;
const EVERYONE = ['admin', 'contributor'] as const;

const name = z.string().trim().min(1, 'name must not be empty').max(200).refine(storableText, UNSTORABLE);
const segmentParams = z.strictObject({ id: z.string().min(1).max(100).refine(storableText, UNSTORABLE) });

const segmentSchema = z.object({
  id: z.string(),
  name: z.string(),
  rule: z.unknown(),
  memberCount: z.number().int().nullable().describe('members at the last refresh; null until refreshed'),
  refreshedAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const createBody = z.strictObject({ name, rule: ruleSchema });
const patchBody = z
  .strictObject({ name: name.optional(), rule: ruleSchema.optional() })
  .refine((b) => b.name !== undefined || b.rule !== undefined, { message: 'name or rule is required' });

const refreshSchema = z.object({ id: z.string(), memberCount: z.number().int(), refreshedAt: z.string() });

const view = (s: Segment) => ({
  id: s.id,
  name: s.name,
  rule: s.rule,
  memberCount: s.memberCount,
  refreshedAt: s.refreshedAt,
  createdAt: s.createdAt,
  updatedAt: s.updatedAt,
});

export function registerSegmentsRoutes(routes: RouteRegistry, deps: AppDeps): void {
  const { store } = deps;
  const clock = deps.clock ?? (() => new Date());

  routes.add(
    {
      method: 'post',
      path: '/v1/segments',
      summary: 'Create a segment (not refreshed yet)',
      tag: 'segments',
      roles: ADMIN,
      body: createBody,
      response: { status: 201, schema: segmentSchema },
      audit: { action: 'segment.create', resource: 'segment' },
    },
    async ({ body }) => view(await store.segments.create({ name: body.name, rule: body.rule as Rule }, clock().toISOString())),
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/segments',
      summary: 'List segments (oldest first)',
      tag: 'segments',
      roles: EVERYONE,
      query: pageQuery,
      response: { status: 200, schema: z.object({ items: z.array(segmentSchema), nextCursor: z.string().nullable() }) },
    },
    async ({ query }) => {
      const position = decodeCursor(query.cursor, 1, storableText);
      const page = await store.segments.list(query.limit, position?.[0] as string | undefined);
      const last = page.items[page.items.length - 1];
      return { items: page.items.map(view), nextCursor: page.hasMore && last ? encodeCursor([last.id]) : null };
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/segments/:id',
      summary: 'One segment',
      tag: 'segments',
      roles: EVERYONE,
      params: segmentParams,
      response: { status: 200, schema: segmentSchema },
      errors: { 404: 'not_found' },
    },
    async ({ params }) => {
      const segment = await store.segments.get(params.id);
      if (!segment) throw notFound('segment');
      return view(segment);
    },
  );

  routes.add(
    {
      method: 'patch',
      path: '/v1/segments/:id',
      summary: 'Rename a segment or change its rule',
      description: 'A new rule clears the materialized membership: memberCount and refreshedAt are null until the next refresh.',
      tag: 'segments',
      roles: ADMIN,
      params: segmentParams,
      body: patchBody,
      response: { status: 200, schema: segmentSchema },
      errors: { 404: 'not_found' },
      audit: { action: 'segment.update', resource: 'segment' },
    },
    async ({ params, body }) => {
      const segment = await store.segments.update(params.id, { name: body.name, rule: body.rule as Rule | undefined }, clock().toISOString());
      if (!segment) throw notFound('segment');
      return view(segment);
    },
  );

  routes.add(
    {
      method: 'delete',
      path: '/v1/segments/:id',
      summary: 'Delete a segment',
      tag: 'segments',
      roles: ADMIN,
      params: segmentParams,
      response: { status: 204, description: 'deleted' },
      errors: { 404: 'not_found', 409: 'segment_in_use: an export names the segment (details list the export ids)' },
      audit: { action: 'segment.delete', resource: 'segment' },
    },
    async ({ params }) => {
      const result = await store.segments.delete(params.id);
      if (result.deleted) return undefined;
      if (result.reason === 'not_found') throw notFound('segment');
      throw conflict('segment_in_use', `exports name this segment: ${result.exportIds.join(', ')}; remove it from them first`, [{ exportIds: result.exportIds }]);
    },
  );

  routes.add(
    {
      method: 'post',
      path: '/v1/segments/:id/refresh',
      summary: "Materialize the segment's membership now",
      description: 'Evaluates the rule against every profile and replaces the members in one transaction. Runs already started keep their snapshot.',
      tag: 'segments',
      roles: ADMIN,
      params: segmentParams,
      response: { status: 200, schema: refreshSchema },
      errors: { 404: 'not_found' },
      audit: { action: 'segment.refresh', resource: 'segment', summary: (_ctx, result) => ({ memberCount: (result as { memberCount: number }).memberCount }) },
    },
    async ({ params }) => {
      const result = await store.segments.refresh(params.id, clock);
      if (!result) throw notFound('segment');
      return result;
    },
  );
}
