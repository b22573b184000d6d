import type { Client, ScheduleOptions, ScheduleUpdateOptions } from '@temporalio/client';
import type { Store } from '../store';
import type { Export } from '../store/types';
import { EXPORT_SCHEDULE_PREFIX, exportScheduleId, exportScheduleOptions, refreshScheduleOptions } from './schedule-options';
import { REFRESH_SETTING_KEY, type RefreshSchedule } from './refresh-schedule';

/**
 * Keeps the Temporal Schedules in step with the store: the API syncs after every change of an
 * export or of the refresh schedule, the scheduled start removes an orphan, and the API process
 * reconciles everything at start (after a crash between a store write and its sync).
 */

export interface ScheduleContext {
  client: Client;
  taskQueue: string;
}

const isNotFound = (err: unknown) =>
  (err as Error)?.name === 'ScheduleNotFoundError' || /not ?found/i.test((err as Error)?.message ?? '');
const isAlreadyRunning = (err: unknown) => (err as Error)?.name === 'ScheduleAlreadyRunning';

/** Creates the Temporal Schedule, or updates it in place when it exists (memo is kept: Temporal cannot update it). */
async function upsertSchedule(client: Client, options: ScheduleOptions): Promise<'created' | 'updated'> {
  const update = (): ScheduleUpdateOptions => ({
    spec: options.spec,
    action: options.action,
    policies: options.policies,
    state: { paused: options.state?.paused, note: options.state?.note },
  });
  const handle = client.schedule.getHandle(options.scheduleId);
  try {
    await handle.update(update);
    return 'updated';
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await client.schedule.create(options);
    return 'created';
  } catch (err) {
    // Another process created it meanwhile.
    if (!isAlreadyRunning(err)) throw err;
    await handle.update(update);
    return 'updated';
  }
}

/** Deletes a Temporal Schedule; false when there was none. */
export async function deleteSchedule(client: Client, scheduleId: string): Promise<boolean> {
  try {
    await client.schedule.getHandle(scheduleId).delete();
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

export const deleteExportSchedule = (client: Client, exportId: string) => deleteSchedule(client, exportScheduleId(exportId));

/**
 * Makes the export's Temporal Schedule match the export: one when the export exists (not deleted)
 * with schedule mode `custom`, none otherwise. Call after every create, update and delete.
 */
export async function syncExportSchedule(
  ctx: ScheduleContext,
  exportId: string,
  exp: Pick<Export, 'id' | 'name' | 'schedule' | 'deletedAt'> | undefined | null,
): Promise<'created' | 'updated' | 'deleted' | 'none'> {
  if (!exp || exp.deletedAt || exp.schedule.mode !== 'custom') {
    return (await deleteExportSchedule(ctx.client, exportId)) ? 'deleted' : 'none';
  }
  return upsertSchedule(ctx.client, exportScheduleOptions(exp, exp.schedule, ctx.taskQueue));
}

/** Makes the refresh Temporal Schedule match the setting (paused when disabled). */
export function syncRefreshSchedule(ctx: ScheduleContext, s: RefreshSchedule): Promise<'created' | 'updated'> {
  return upsertSchedule(ctx.client, refreshScheduleOptions(s, ctx.taskQueue));
}

/**
 * The next times a Temporal Schedule starts its action, soonest first, as the Temporal server
 * computes them (its calendar and daylight-saving rules are the ones that fire); none when the
 * schedule does not exist. A paused schedule still lists the times it would fire.
 */
export async function nextActionTimes(client: Client, scheduleId: string, count: number): Promise<Date[]> {
  try {
    return (await client.schedule.getHandle(scheduleId).describe()).info.nextActionTimes.slice(0, count);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/**
 * Brings Temporal in line with the store after a crash between a write and its sync: every
 * `custom` export has its schedule, no other `export-schedule-*` schedule of this task queue
 * remains, and the refresh schedule matches its setting. Returns what it changed.
 */
export async function reconcileSchedules(ctx: ScheduleContext, store: Store): Promise<{ upserted: string[]; deleted: string[] }> {
  const upserted: string[] = [];
  const deleted: string[] = [];
  const custom = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await store.exports.list({ limit: 500, cursor });
    for (const exp of page.items) {
      if (exp.schedule.mode !== 'custom') continue;
      custom.add(exportScheduleId(exp.id));
      await syncExportSchedule(ctx, exp.id, exp);
      upserted.push(exp.id);
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  for await (const summary of ctx.client.schedule.list()) {
    if (!summary.scheduleId.startsWith(EXPORT_SCHEDULE_PREFIX) || custom.has(summary.scheduleId)) continue;
    const description = await ctx.client.schedule.getHandle(summary.scheduleId).describe().catch(() => undefined);
    if (description?.action.taskQueue !== ctx.taskQueue) continue;
    if (await deleteSchedule(ctx.client, summary.scheduleId)) deleted.push(summary.scheduleId.slice(EXPORT_SCHEDULE_PREFIX.length));
  }
  const refresh = await store.settings.get<RefreshSchedule>(REFRESH_SETTING_KEY);
  if (refresh) await syncRefreshSchedule(ctx, refresh.value);
  return { upserted, deleted };
}
