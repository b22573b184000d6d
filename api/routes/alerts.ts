import { z } from 'zod';
import { effectiveThresholds } from '../../services/alerts';
import type { AlertOverrides } from '../../store/alerts';
import { visibleExport } from '../access';
import type { RouteDeps } from '../deps';
import type { RouteRegistry } from '../http';
import { exportIdSchema } from '../schemas/exports';

/**
 * An export's alert thresholds: the configured defaults (ALERT_*), each of which the export may
 * override. A run that ends past one raises an alert: it shows on the run (`alerts`) and is a
 * `run.alert` webhook event. Roles follow the exports: admins, and contributors on shared connections.
 */

const EVERYONE = ['admin', 'contributor'] as const;
const params = z.strictObject({ id: exportIdSchema });

const fields = {
  rejectedPercent: z.number().min(0).max(100).describe('alert when rejected + suppressed profiles are more than this percentage of the segment'),
  runDurationMinutes: z.number().int().positive().describe('alert when a run takes longer than this many minutes'),
  segmentChangePercent: z.number().min(0).describe("alert when the segment's size changed by more than this percentage since the last successful run"),
};

const thresholdsSchema = z.object(fields);
const overridesSchema = z.object({
  rejectedPercent: fields.rejectedPercent.nullable(),
  runDurationMinutes: fields.runDurationMinutes.nullable(),
  segmentChangePercent: fields.segmentChangePercent.nullable(),
});
const answerSchema = z.object({
  effective: thresholdsSchema.describe('what the next run is judged by'),
  overrides: overridesSchema.describe("the export's own values; null uses the configured default"),
  defaults: thresholdsSchema.describe('the configured defaults (ALERT_REJECTED_PERCENT, ALERT_RUN_DURATION_MINUTES, ALERT_SEGMENT_CHANGE_PERCENT)'),
});

export function registerAlertsRoutes(routes: RouteRegistry, deps: RouteDeps): void {
  const { store, config } = deps;
  const clock = deps.clock ?? (() => new Date());
  const answer = (overrides: AlertOverrides) => ({ effective: effectiveThresholds(config.alerts, overrides), overrides, defaults: config.alerts });

  routes.add(
    {
      method: 'get',
      path: '/v1/exports/:id/alerts',
      summary: "The export's alert thresholds: effective, its own overrides and the defaults",
      tag: 'exports',
      roles: EVERYONE,
      params,
      response: { status: 200, schema: answerSchema },
      errors: { 404: 'no such export, or not visible to the caller' },
    },
    async ({ params: p, role }) => {
      const exp = await visibleExport(deps, p.id, role);
      return answer(await store.alerts.overrides(exp.id));
    },
  );

  routes.add(
    {
      method: 'put',
      path: '/v1/exports/:id/alerts',
      summary: "Set the export's own alert thresholds (null or absent: the default)",
      tag: 'exports',
      roles: EVERYONE,
      params,
      body: overridesSchema.partial().strict(),
      response: { status: 200, schema: answerSchema },
      errors: { 404: 'no such export, or not visible to the caller' },
    },
    async ({ params: p, role, body }) => {
      const exp = await visibleExport(deps, p.id, role);
      const overrides: AlertOverrides = {
        rejectedPercent: body.rejectedPercent ?? null,
        runDurationMinutes: body.runDurationMinutes ?? null,
        segmentChangePercent: body.segmentChangePercent ?? null,
      };
      await store.alerts.setOverrides(exp.id, overrides, clock().toISOString());
      return answer(overrides);
    },
  );
}
