import type { Response } from 'express';
import { z } from 'zod';
import { ApiError, notFound, unprocessable } from '../errors';
import { pageQuery } from '../../common/paging';
import { runJson, withAlerts } from '../run-view';
import { isSaveRefusal, type SaveRefusal } from '../../store/exports';
import type { RunRecord } from '../../store/runs';
import type { Connection, Export } from '../../store/types';
import type { AppDeps } from '../deps';
import type { RouteRegistry } from '../http';
import {
  connectionIdSchema,
  exportCreateSchema,
  exportIdParams,
  exportPatchSchema,
  exportSettingsSchema,
} from '../schemas/exports';
import { assertMayChangeRemovalGuard, usableConnection, visibleExport } from '../access';
import { assertConnected, callConstantContact } from '../constant-contact';
import { runSchema } from './runs';

export const exportResponseSchema = exportSettingsSchema.extend({
  lastRun: runSchema.nullable().describe('the newest run (as GET /v1/runs/{id} answers it), null when it never ran'),
});

/**
 * Exports: where a set of segments goes (connection and list), how profile
 * attributes map to Constant Contact fields, and how and when it runs. Saving validates against the
 * store and against Constant Contact, and never starts a run.
 *
 * Roles: admins manage every export. Contributors manage the exports on connections shared with
 * them (usableBy `admins-and-contributors`); any other export, including a detached one (its
 * connection was removed, so nothing grants them access), answers 404 `not_found` and is left out of
 * lists. Naming a connection the caller may not use answers 404 `connection_not_found`, exactly as a
 * connection that does not exist.
 *
 * Order of checks on save: the body (400) → the connection (404, then 422
 * `connection_not_connected`) → the segments (422 `segment_not_found`) → the list in Constant
 * Contact (422 `list_not_found`) → the custom fields (422 `custom_field_not_found`). Constant
 * Contact is asked only when the connection, list or custom field names change.
 */

const EVERYONE = ['admin', 'contributor'] as const;

const listQuery = pageQuery.extend({ connectionId: connectionIdSchema.optional().describe('only the exports on this connection') });

const saveErrors = {
  404: 'connection_not_found: no such connection, or not usable by the caller',
  409: 'export_detached: the export has no connection; name a connectionId to change the list or custom fields',
  422: 'connection_not_connected, segment_not_found, list_not_found or custom_field_not_found',
  502: 'Constant Contact did not answer',
  503: 'Constant Contact rate limit',
};

export function registerExportsRoutes(routes: RouteRegistry, deps: AppDeps): void {
  const { store } = deps;
  const now = () => (deps.clock ? deps.clock() : new Date()).toISOString();

  const assertSegmentsExist = async (segmentIds: string[]) => {
    const missing = await store.exports.missingSegments(segmentIds);
    if (missing.length) throw segmentNotFound(missing);
  };

  /** Checks the list and the custom field names against the connection's Constant Contact account. */
  const checkDestination = async (res: Response, connection: Connection, check: { listId?: string; customFields?: string[] }) => {
    if (check.listId !== undefined) {
      const listId = check.listId;
      await callConstantContact(res, connection, () => deps.constantContact.getList(connection.id, listId), () =>
        unprocessable('list_not_found', `Constant Contact has no list ${listId} in the account of connection ${connection.id}`, [
          { path: ['body', 'listId'], message: 'no such list' },
        ]),
      );
    }
    if (check.customFields?.length) {
      const fields = await callConstantContact(res, connection, () => deps.constantContact.listCustomFields(connection.id));
      const known = new Set(fields.map((f) => f.name));
      const missing = check.customFields.filter((name) => !known.has(name));
      if (missing.length) {
        throw unprocessable(
          'custom_field_not_found',
          `Constant Contact has no custom field named ${missing.join(', ')}; GET /v1/connections/${connection.id}/custom-fields lists them`,
          missing.map((name) => ({ path: ['body', 'mapping', 'customFields', name], message: 'no such custom field' })),
        );
      }
    }
  };

  /** The exports with their newest runs, as the runs API presents runs. */
  const views = async (exps: Export[]) => {
    const newest = await store.exports.newestRunIds(exps.map((e) => e.id));
    const runs = new Map<string, RunRecord>();
    for (const [exportId, runId] of newest) {
      const run = await store.runs.get(runId);
      if (run) runs.set(exportId, (await withAlerts(store, [run]))[0]);
    }
    return exps.map((e) => exportView(e, runs.get(e.id), deps.config));
  };
  const view = async (exp: Export) => (await views([exp]))[0];

  routes.add(
    {
      method: 'post',
      path: '/v1/exports',
      summary: 'Create an export (it does not run: it runs on its schedule or on demand)',
      tag: 'exports',
      roles: EVERYONE,
      body: exportCreateSchema,
      response: { status: 201, schema: exportResponseSchema },
      errors: { ...saveErrors, 403: 'forbidden: a contributor set syncMode mirror or maxRemovalPercent above the default (admin decisions)' },
      audit: { action: 'export.create', resource: 'export' },
    },
    async ({ body, role, res }) => {
      assertMayChangeRemovalGuard(role, body);
      const connection = await usableConnection(deps, body.connectionId, role);
      assertConnected(connection);
      await assertSegmentsExist(body.segmentIds);
      await checkDestination(res, connection, { listId: body.listId, customFields: Object.keys(body.mapping.customFields ?? {}) });
      const saved = await store.exports.create(body, { createdByRole: role!, now: now() });
      const exp = orRefusal(saved);
      await deps.exportHooks?.onExportSaved?.(exp, 'created');
      return exportView(exp, undefined, deps.config);
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/exports',
      summary: 'List exports, each with its last run (contributors: those on connections shared with them)',
      tag: 'exports',
      roles: EVERYONE,
      query: listQuery,
      response: { status: 200, schema: z.object({ items: z.array(exportResponseSchema), nextCursor: z.string().nullable() }) },
    },
    async ({ query, role }) => {
      const page = await store.exports.list({ ...query, connectionUsableBy: role === 'admin' ? undefined : 'admins-and-contributors' });
      return { items: await views(page.items), nextCursor: page.nextCursor };
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/exports/:id',
      summary: 'Read an export with its last run',
      tag: 'exports',
      roles: EVERYONE,
      params: exportIdParams,
      response: { status: 200, schema: exportResponseSchema },
      errors: { 404: 'no such export, or not visible to the caller' },
    },
    async ({ params, role }) => {
      return view(await visibleExport(deps, params.id, role));
    },
  );

  routes.add(
    {
      method: 'patch',
      path: '/v1/exports/:id',
      summary: 'Change an export (mapping, schedule and segmentIds are replaced whole); it does not run',
      tag: 'exports',
      roles: EVERYONE,
      params: exportIdParams,
      body: exportPatchSchema,
      response: { status: 200, schema: exportResponseSchema },
      errors: {
        ...saveErrors,
        403: 'forbidden: a contributor switched to mirror mode or raised maxRemovalPercent above the default (admin decisions)',
        404: 'no such export or connection, or not visible to the caller',
      },
      audit: { action: 'export.update', resource: 'export' },
    },
    async ({ params, body, role, res }) => {
      const current = await visibleExport(deps, params.id, role);
      assertMayChangeRemovalGuard(role, body, current);
      const connectionChanges = body.connectionId !== undefined && body.connectionId !== current.connectionId;
      const listChanges = body.listId !== undefined && body.listId !== current.listId;
      const fieldNames = Object.keys((body.mapping ?? current.mapping).customFields ?? {});
      const currentNames = new Set(Object.keys(current.mapping.customFields ?? {}));
      const fieldsChange = fieldNames.some((name) => !currentNames.has(name));

      const destinationChanges = connectionChanges || listChanges || fieldsChange;
      let connection: Connection | undefined;
      if (destinationChanges) {
        const connectionId = body.connectionId ?? current.connectionId;
        if (!connectionId) {
          throw new ApiError(409, 'export_detached', 'this export has no connection (it was removed); name a connectionId to change its list or custom fields');
        }
        connection = await usableConnection(deps, connectionId, role);
        assertConnected(connection);
      } else if (body.connectionId !== undefined) {
        await usableConnection(deps, body.connectionId, role);
      }
      if (body.segmentIds) await assertSegmentsExist(body.segmentIds);
      if (connection) {
        await checkDestination(res, connection, {
          listId: connectionChanges || listChanges ? (body.listId ?? current.listId) : undefined,
          customFields: connectionChanges ? fieldNames : fieldNames.filter((name) => !currentNames.has(name)),
        });
      }

      const saved = await store.exports.update(current.id, body, { now: now() });
      const exp = orRefusal(saved);
      await deps.exportHooks?.onExportSaved?.(exp, 'updated');
      return view(exp);
    },
  );

  routes.add(
    {
      method: 'delete',
      path: '/v1/exports/:id',
      summary: 'Remove an export and its schedule; its run history stays readable',
      tag: 'exports',
      roles: EVERYONE,
      params: exportIdParams,
      response: { status: 204, description: 'removed' },
      errors: { 404: 'no such export, or not visible to the caller' },
      audit: { action: 'export.delete', resource: 'export' },
    },
    async ({ params, role }) => {
      await visibleExport(deps, params.id, role);
      const removed = await store.exports.softDelete(params.id, { now: now() });
      if (!removed) throw notFound('export');
      await deps.exportHooks?.onExportDeleted?.(removed);
      return undefined;
    },
  );
}

function segmentNotFound(segmentIds: string[]): ApiError {
  return unprocessable(
    'segment_not_found',
    `no segment ${segmentIds.join(', ')}`,
    segmentIds.map((id) => ({ path: ['body', 'segmentIds'], segmentId: id, message: 'no such segment' })),
  );
}

/** A refusal found inside the saving transaction (something changed since the checks). */
function orRefusal(saved: Export | SaveRefusal): Export {
  if (!isSaveRefusal(saved)) return saved;
  switch (saved.refused) {
    case 'segment_not_found':
      throw segmentNotFound(saved.segmentIds);
    case 'connection_not_found':
      throw new ApiError(404, 'connection_not_found', 'the connection was removed meanwhile');
    case 'export_not_found':
      throw notFound('export');
  }
}

/** The API form of an export: the stored settings and the newest run (null when it never ran). */
export function exportView(exp: Export, lastRun: RunRecord | undefined, config: AppDeps['config']) {
  return {
    id: exp.id,
    name: exp.name,
    connectionId: exp.connectionId,
    listId: exp.listId,
    mapping: exp.mapping,
    segmentIds: exp.segmentIds,
    syncMode: exp.syncMode,
    maxRemovalPercent: exp.maxRemovalPercent,
    schedule: exp.schedule,
    createdAt: exp.createdAt,
    updatedAt: exp.updatedAt,
    lastRun: lastRun ? runJson(lastRun, config.temporal) : null,
  };
}
