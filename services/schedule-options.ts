import { type CalendarSpec, type DayOfWeek, type Month, type ScheduleOptions, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Export, Schedule } from '../store/types';
import {
  REFRESH_WORKFLOW_TYPE,
  SCHEDULED_EXPORT_RUN_WORKFLOW_TYPE,
  type RefreshInput,
  type ScheduledExportRunInput,
} from './contracts';
import { cronCalendars, type Calendar, type Ranges } from './cron';
import { refreshCalendars, type RefreshSchedule } from './refresh-schedule';

/**
 * The Temporal Schedules of this service, as options to create or update them with:
 * - the refresh schedule, one per task queue, starting the `refresh` workflow (every segment, then
 *   every `with-refresh` export); paused while the setting is disabled;
 * - per-export schedules: an export whose schedule mode is `custom` has one Temporal Schedule,
 *   `export-schedule-<exportId>`, starting the `scheduledExportRun` workflow. Other modes have none.
 */

/** The task queue of a default deployment; another deployment (or a test) on the same namespace gets its own refresh schedule. */
export const DEFAULT_TASK_QUEUE = 'segment-export';
export const EXPORT_SCHEDULE_PREFIX = 'export-schedule-';

export const refreshScheduleId = (taskQueue: string) =>
  taskQueue === DEFAULT_TASK_QUEUE ? 'refresh-schedule' : `refresh-schedule-${taskQueue}`;
export const exportScheduleId = (exportId: string) => `${EXPORT_SCHEDULE_PREFIX}${exportId}`;

const TEMPORAL_MONTHS: readonly Month[] = ['JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER'];
const TEMPORAL_DAYS: readonly DayOfWeek[] = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];

/** Our calendars as Temporal calendar specs (second 0, every year). */
export function toTemporalCalendars(calendars: Calendar[]): CalendarSpec[] {
  const named = <T>(ranges: Ranges, names: readonly T[], offset: number) =>
    ranges.map((r) => ({ start: names[r.start - offset], end: names[r.end - offset], step: r.step }));
  return calendars.map((c) => ({
    second: 0,
    minute: c.minute,
    hour: c.hour,
    dayOfMonth: c.dayOfMonth,
    month: named(c.month, TEMPORAL_MONTHS, 1),
    dayOfWeek: named(c.dayOfWeek, TEMPORAL_DAYS, 0),
    year: '*',
    ...(c.comment ? { comment: c.comment } : {}),
  }));
}

export function exportScheduleOptions(exp: Pick<Export, 'id' | 'name'>, schedule: Extract<Schedule, { mode: 'custom' }>, taskQueue: string): ScheduleOptions {
  const args: [ScheduledExportRunInput] = [{ exportId: exp.id }];
  return {
    scheduleId: exportScheduleId(exp.id),
    spec: { calendars: toTemporalCalendars(cronCalendars(schedule.cron)), timezone: schedule.timezone },
    action: {
      type: 'startWorkflow',
      workflowType: SCHEDULED_EXPORT_RUN_WORKFLOW_TYPE,
      args,
      taskQueue,
      // The server appends the scheduled time: export-schedule-exp_…-2027-03-28T06:00:00Z
      workflowId: exportScheduleId(exp.id),
      staticSummary: `Scheduled run of export "${exp.name}" (${exp.id})`,
      memo: { exportId: exp.id },
    },
    policies: {
      // Every start reaches our activity, which starts the run or records it `skipped` (run_in_progress):
      // an overlap is never silent. The wrapper workflow ends as soon as the run is started.
      overlap: ScheduleOverlapPolicy.ALLOW_ALL,
      // After an outage, a time missed by less than an hour still starts.
      catchupWindow: '1 hour',
    },
    memo: { exportId: exp.id, exportName: exp.name },
    state: { paused: false, note: exportScheduleNote(exp, schedule) },
  };
}

const exportScheduleNote = (exp: Pick<Export, 'id' | 'name'>, s: Extract<Schedule, { mode: 'custom' }>) =>
  `Runs export "${exp.name}" (${exp.id}) on cron "${s.cron}" in ${s.timezone}`;

export function refreshScheduleOptions(s: RefreshSchedule, taskQueue: string): ScheduleOptions {
  const args: [RefreshInput] = [{ source: 'schedule' }];
  return {
    scheduleId: refreshScheduleId(taskQueue),
    spec: { calendars: toTemporalCalendars(refreshCalendars(s)), timezone: s.timezone },
    action: {
      type: 'startWorkflow',
      workflowType: REFRESH_WORKFLOW_TYPE,
      args,
      taskQueue,
      workflowId: 'refresh',
      staticSummary: 'Scheduled refresh: every segment, then a run of every with-refresh export',
    },
    policies: {
      // A refresh still going when the next is due: the next one follows it (at most one waits).
      overlap: ScheduleOverlapPolicy.BUFFER_ONE,
      catchupWindow: '1 hour',
    },
    memo: { purpose: 'refresh every segment, then run every export whose schedule mode is with-refresh' },
    state: { paused: !s.enabled, note: refreshScheduleNote(s) },
  };
}

const refreshScheduleNote = (s: RefreshSchedule) =>
  `${s.enabled ? 'Refreshes' : 'Disabled; would refresh'} at ${s.times.join(', ')} ${s.days === 'daily' ? 'daily' : `on ${s.days.join(', ')}`} in ${s.timezone}`;
