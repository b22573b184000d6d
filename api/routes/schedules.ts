import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { Config } from '../../common/config';
import type { Logger } from '../../common/logger';
import { REFRESH_WORKFLOW_TYPE, type RefreshInput } from '../../services/contracts';
import {
  REFRESH_SETTING_KEY,
  WEEKDAYS,
  normalizeRefreshSchedule,
  readRefreshSchedule,
  type RefreshSchedule,
} from '../../services/refresh-schedule';
import { exportScheduleId, refreshScheduleId } from '../../services/schedule-options';
import { nextActionTimes, syncExportSchedule, syncRefreshSchedule } from '../../services/schedule-sync';
import type { Export } from '../../store/types';
import { visibleExport } from '../access';
import type { AppDeps, ExportHooks } from '../deps';
import { ApiError, notFound, temporalUnavailable } from '../errors';
import type { RouteRegistry } from '../http';
import { scheduleUiUrl, workflowUiUrl } from '../run-view';
import { exportIdParams, scheduleSchema, timeZoneSchema } from '../schemas/exports';

/**
 * Schedules, backed by Temporal Schedules (services/schedule-options.ts, services/schedule-sync.ts):
 * - the refresh schedule (GET/PUT /v1/refresh-schedule), kept in the settings and mirrored to one
 *   Temporal Schedule (paused when disabled); POST /v1/refresh starts a refresh now;
 * - an export's schedule (GET/PUT /v1/exports/{id}/schedule): mode `custom` has its own Temporal
 *   Schedule `export-schedule-<exportId>`; `with-refresh` runs with the refresh schedule; `off` never
 *   runs by itself. Creating, changing, detaching and deleting exports keep their Temporal Schedules
 *   in step through the export hooks (createScheduleExportHooks).
 *
 * Temporal is changed before the store: when Temporal does not answer, the request fails with 503
 * `temporal_unavailable` and nothing is saved. Next run times are the Temporal server's own
 * (`describe()` of the schedule), so what the API answers is what will fire; reading them needs
 * Temporal too (503 `temporal_unavailable` when it does not answer).
 */

const EVERYONE = ['admin', 'contributor'] as const;
const NEXT_RUN_TIMES = 5;

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time of day HH:MM (00:00 to 23:59)');
const weekday = z.enum(WEEKDAYS);

export const refreshScheduleSchema = z
  .object({
    times: z
      .array(hhmm)
      .min(1, 'name at least one time of day')
      .max(4, 'at most 4 times a day')
      .refine((t) => new Set(t).size === t.length, { message: 'times must be unique' })
      .describe('local times of day, HH:MM, 1 to 4'),
    timezone: timeZoneSchema,
    days: z
      .union([z.literal('daily'), z.array(weekday).min(1, 'name at least one day, or "daily"').max(7)])
      .refine((d) => d === 'daily' || new Set(d).size === d.length, { message: 'days must be unique' })
      .describe('"daily", or the days of the week: mon, tue, wed, thu, fri, sat, sun'),
    enabled: z.boolean().default(true).describe('false keeps the settings and pauses the schedule'),
  })
  .strict();

const nextRunTimesSchema = z
  .array(z.string())
  .describe('the next times it runs (ISO 8601 UTC), soonest first, as the Temporal server computes them; empty when it does not run by itself');

const refreshScheduleResponse = z.object({
  times: z.array(z.string()),
  timezone: z.string(),
  days: z.union([z.literal('daily'), z.array(weekday)]),
  enabled: z.boolean(),
  updatedAt: z.string().nullable().describe('null until an admin sets the refresh schedule (until then it is disabled)'),
  scheduleId: z.string().describe('the Temporal Schedule id'),
  temporalUiUrl: z.string().describe('the Temporal Schedule in the Temporal Web UI'),
  nextRunTimes: nextRunTimesSchema,
});

const exportScheduleResponse = z.object({
  exportId: z.string(),
  schedule: scheduleSchema,
  scheduleId: z.string().nullable().describe('the Temporal Schedule id (mode custom only)'),
  temporalUiUrl: z.string().nullable().describe('the Temporal Schedule in the Temporal Web UI (the refresh schedule for mode with-refresh)'),
  nextRunTimes: nextRunTimesSchema,
});

const refreshStarted = z.object({
  workflowId: z.string(),
  temporalUiUrl: z.string(),
  startedAt: z.string(),
});

const notAnswered = (what: string, err: unknown) =>
  temporalUnavailable(`${what}: Temporal did not answer (${(err as Error)?.message ?? String(err)}); try again when it is up`);

/** How long a read of next run times waits for Temporal. */
const DESCRIBE_DEADLINE_MS = 5000;

/**
 * The export hooks that keep each export's Temporal Schedule in step with it (api/deps.ts). A
 * failure answers 503 `schedule_not_synced`: the export change is saved, and saving the schedule
 * again (PUT /v1/exports/{id}/schedule) brings Temporal in step.
 */
export function createScheduleExportHooks(deps: { temporal: Client; config: Config; logger?: Logger }): ExportHooks {
  const ctx = { client: deps.temporal, taskQueue: deps.config.temporal.taskQueue };
  const sync = async (exp: Export, deleted: boolean) => {
    try {
      const result = await syncExportSchedule(ctx, exp.id, deleted ? { ...exp, deletedAt: exp.deletedAt ?? 'deleted' } : exp);
      if (result !== 'none') deps.logger?.info({ exportId: exp.id, scheduleId: exportScheduleId(exp.id), result }, 'export schedule synced');
    } catch (err) {
      deps.logger?.error({ exportId: exp.id, err: (err as Error)?.message }, 'export schedule not synced');
      const error = new ApiError(
        503,
        'schedule_not_synced',
        deleted
          ? `export ${exp.id} was deleted, but its Temporal Schedule could not be removed (Temporal did not answer); a scheduled start will find it deleted and remove the schedule`
          : `export ${exp.id} was saved, but its Temporal Schedule could not be updated (Temporal did not answer); PUT /v1/exports/${exp.id}/schedule again when Temporal is up`,
        [{ exportId: exp.id }],
      );
      error.saved = { id: exp.id };
      throw error;
    }
  };
  return {
    onExportSaved: (exp) => sync(exp, false),
    onExportDeleted: (exp) => sync(exp, true),
  };
}

export function registerSchedulesRoutes(routes: RouteRegistry, deps: AppDeps): void {
  const { store, config } = deps;
  const now = () => (deps.clock ? deps.clock() : new Date());
  const ctx = () => ({ client: deps.temporal, taskQueue: config.temporal.taskQueue });
  const refreshId = refreshScheduleId(config.temporal.taskQueue);

  /** The next times the Temporal Schedule fires, as ISO strings; none when `fires` is false. */
  const nextRunTimes = async (scheduleId: string, fires: boolean): Promise<string[]> => {
    if (!fires) return [];
    try {
      const times = await deps.temporal.withDeadline(Date.now() + DESCRIBE_DEADLINE_MS, () => nextActionTimes(deps.temporal, scheduleId, NEXT_RUN_TIMES));
      return times.map((d) => d.toISOString());
    } catch (err) {
      throw notAnswered('the next run times could not be read', err);
    }
  };

  // A disabled refresh schedule is a paused Temporal Schedule: it runs nothing, so it lists no times.
  const refreshFires = (refresh: { schedule: RefreshSchedule; updatedAt: string | null }) => refresh.updatedAt !== null && refresh.schedule.enabled;

  const refreshView = async (schedule: RefreshSchedule, updatedAt: string | null) => ({
    times: schedule.times,
    timezone: schedule.timezone,
    days: schedule.days,
    enabled: schedule.enabled,
    updatedAt,
    scheduleId: refreshId,
    temporalUiUrl: scheduleUiUrl(config.temporal, refreshId),
    nextRunTimes: await nextRunTimes(refreshId, refreshFires({ schedule, updatedAt })),
  });

  /** An export runs by itself only with a connection: a detached export's scheduled starts are skipped. */
  const exportScheduleView = async (exp: Export) => {
    const s = exp.schedule;
    if (s.mode === 'custom') {
      const scheduleId = exportScheduleId(exp.id);
      return { exportId: exp.id, schedule: s, scheduleId, temporalUiUrl: scheduleUiUrl(config.temporal, scheduleId), nextRunTimes: await nextRunTimes(scheduleId, exp.connectionId !== null) };
    }
    if (s.mode === 'with-refresh') {
      const fires = exp.connectionId !== null && refreshFires(await readRefreshSchedule(store));
      return { exportId: exp.id, schedule: s, scheduleId: null, temporalUiUrl: scheduleUiUrl(config.temporal, refreshId), nextRunTimes: await nextRunTimes(refreshId, fires) };
    }
    return { exportId: exp.id, schedule: s, scheduleId: null, temporalUiUrl: null, nextRunTimes: [] };
  };

  routes.add(
    {
      method: 'get',
      path: '/v1/refresh-schedule',
      summary: 'Read the refresh schedule with its next run times (disabled until an admin sets it)',
      tag: 'schedules',
      roles: EVERYONE,
      response: { status: 200, schema: refreshScheduleResponse },
    },
    async () => {
      const { schedule, updatedAt } = await readRefreshSchedule(store);
      return refreshView(schedule, updatedAt);
    },
  );

  routes.add(
    {
      method: 'put',
      path: '/v1/refresh-schedule',
      summary: 'Set the refresh schedule: refresh every segment, then run every with-refresh export, at these times',
      tag: 'schedules',
      roles: ['admin'],
      body: refreshScheduleSchema,
      response: { status: 200, schema: refreshScheduleResponse },
      errors: { 503: 'temporal_unavailable: nothing was saved' },
      audit: { action: 'refresh-schedule.update', resource: 'refresh-schedule', summary: ({ body }) => ({ fields: Object.keys(body).sort(), enabled: body.enabled }) },
    },
    async ({ body }) => {
      const schedule = normalizeRefreshSchedule(body);
      try {
        await syncRefreshSchedule(ctx(), schedule);
      } catch (err) {
        throw notAnswered('the refresh schedule was not saved', err);
      }
      const saved = await store.settings.set(REFRESH_SETTING_KEY, schedule, now());
      deps.logger.info({ scheduleId: refreshId, enabled: schedule.enabled }, 'refresh schedule saved');
      return refreshView(saved.value, saved.updatedAt);
    },
  );

  routes.add(
    {
      method: 'post',
      path: '/v1/refresh',
      summary: 'Refresh now: every segment, then a run of every with-refresh export (trigger refresh)',
      tag: 'schedules',
      roles: ['admin'],
      response: { status: 202, schema: refreshStarted, description: 'the refresh workflow started' },
      errors: { 503: 'temporal_unavailable' },
      audit: { action: 'refresh.start', resource: 'refresh', id: (_ctx, result) => (result as { workflowId: string }).workflowId },
    },
    async () => {
      const startedAt = now().toISOString();
      const workflowId = `refresh-on-demand-${startedAt}`;
      const args: [RefreshInput] = [{ source: 'on-demand' }];
      try {
        await deps.temporal.workflow.start(REFRESH_WORKFLOW_TYPE, {
          workflowId,
          taskQueue: config.temporal.taskQueue,
          args,
          staticSummary: 'Refresh now (POST /v1/refresh): every segment, then a run of every with-refresh export',
        });
      } catch (err) {
        if ((err as Error)?.name === 'WorkflowExecutionAlreadyStartedError') {
          throw new ApiError(409, 'refresh_in_progress', 'a refresh was started this very millisecond; try again');
        }
        throw notAnswered('the refresh did not start', err);
      }
      deps.logger.info({ workflowId }, 'refresh started');
      return { workflowId, temporalUiUrl: workflowUiUrl(config.temporal, workflowId), startedAt };
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/exports/:id/schedule',
      summary: "Read an export's schedule with its next run times",
      tag: 'schedules',
      roles: EVERYONE,
      params: exportIdParams,
      response: { status: 200, schema: exportScheduleResponse },
      errors: { 404: 'no such export, or not visible to the caller' },
    },
    async ({ params, role }) => exportScheduleView(await visibleExport(deps, params.id, role)),
  );

  routes.add(
    {
      method: 'put',
      path: '/v1/exports/:id/schedule',
      summary: "Set an export's schedule (with-refresh, custom cron in a time zone, or off)",
      tag: 'schedules',
      roles: EVERYONE,
      params: exportIdParams,
      body: z.object({ schedule: scheduleSchema }).strict(),
      response: { status: 200, schema: exportScheduleResponse },
      errors: { 404: 'no such export, or not visible to the caller', 503: 'temporal_unavailable: nothing was saved' },
      audit: { action: 'export.schedule.update', resource: 'export', summary: ({ body }) => ({ mode: body.schedule.mode }) },
    },
    async ({ params, body, role }) => {
      const current = await visibleExport(deps, params.id, role);
      const wanted: Export = { ...current, schedule: body.schedule };
      try {
        await syncExportSchedule(ctx(), current.id, wanted);
      } catch (err) {
        throw notAnswered('the schedule was not saved', err);
      }
      const saved = await store.exports.update(current.id, { schedule: body.schedule }, { now: now().toISOString() });
      if ('refused' in saved) {
        // Deleted meanwhile: take its schedule away again.
        await syncExportSchedule(ctx(), current.id, undefined).catch(() => undefined);
        throw notFound('export');
      }
      await deps.exportHooks?.onExportSaved?.(saved, 'updated');
      return exportScheduleView(saved);
    },
  );
}
