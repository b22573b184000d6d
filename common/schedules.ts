import {
  type CalendarSpec,
  type Client,
  type DayOfWeek,
  type Month,
  type Range,
  type ScheduleOptions,
  ScheduleOverlapPolicy,
  type ScheduleUpdateOptions,
} from '@temporalio/client';
import type { Export, Schedule } from '../store/types';
import type { Store } from '../store';
import type { RefreshInput, ScheduledExportRunInput } from '../services/contracts';

/**
 * Schedules (api.md, Schedules) on Temporal Schedules:
 * - the refresh schedule: one Temporal Schedule mirroring the `refresh-schedule` setting, starting
 *   the `refresh` workflow (every segment, then every `with-refresh` export);
 * - per-export schedules: an export whose schedule mode is `custom` has one Temporal Schedule,
 *   `export-schedule-<exportId>`, starting the `scheduledExportRun` workflow. Other modes have none.
 *
 * Cron expressions are 5-field cron (api/schemas/exports.ts checks them). They are translated into
 * Temporal calendar specs here, with classic cron's rule that a day matches when the day of month
 * OR the day of week matches if both are restricted (Temporal's own cron strings AND them). The
 * next run times are computed from the same translation with the Temporal server's time-zone
 * semantics (checked against the server in test/schedules): a local time skipped by a
 * daylight-saving change does not fire that day, and one that happens twice fires once.
 */

// ---------------------------------------------------------------- ids and names

/** The task queue of a default deployment; another deployment (or a test) on the same namespace gets its own refresh schedule. */
export const DEFAULT_TASK_QUEUE = 'segment-export';
export const REFRESH_SETTING_KEY = 'refresh-schedule';
export const EXPORT_SCHEDULE_PREFIX = 'export-schedule-';

export const refreshScheduleId = (taskQueue: string) =>
  taskQueue === DEFAULT_TASK_QUEUE ? 'refresh-schedule' : `refresh-schedule-${taskQueue}`;
export const exportScheduleId = (exportId: string) => `${EXPORT_SCHEDULE_PREFIX}${exportId}`;

export const REFRESH_WORKFLOW = 'refresh';
export const SCHEDULED_EXPORT_RUN_WORKFLOW = 'scheduledExportRun';

// ---------------------------------------------------------------- the refresh schedule setting

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface RefreshSchedule {
  /** Local times of day, `HH:MM`, 1..4, sorted. */
  times: string[];
  /** IANA time zone. */
  timezone: string;
  days: Weekday[] | 'daily';
  enabled: boolean;
}

/** Until an admin sets one, there is no refresh schedule (and no Temporal Schedule): nothing runs by surprise. */
export const DEFAULT_REFRESH_SCHEDULE: RefreshSchedule = Object.freeze({
  times: ['06:00'],
  timezone: 'UTC',
  days: 'daily',
  enabled: false,
}) as RefreshSchedule;

/** Sorted unique times; days in week order starting Monday, or `daily` when all seven are named. */
export function normalizeRefreshSchedule(s: RefreshSchedule): RefreshSchedule {
  const times = [...new Set(s.times)].sort();
  let days: RefreshSchedule['days'] = 'daily';
  if (s.days !== 'daily') {
    const set = new Set(s.days);
    days = set.size === 7 ? 'daily' : [...WEEKDAYS.slice(1), WEEKDAYS[0]].filter((d) => set.has(d));
  }
  return { times, timezone: s.timezone, days, enabled: s.enabled };
}

// ---------------------------------------------------------------- calendars

/** One field of a calendar: ranges of numbers (inclusive, with a step). */
type Ranges = Range<number>[];

/** A calendar spec in numbers: a minute matches when every field matches. Day of week 0 = Sunday. */
export interface Calendar {
  minute: Ranges;
  hour: Ranges;
  dayOfMonth: Ranges;
  month: Ranges;
  dayOfWeek: Ranges;
  comment?: string;
}

interface FieldDef {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  namesFrom?: number;
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const FIELDS: FieldDef[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES, namesFrom: 1 },
  { name: 'day of week', min: 0, max: 6, names: DAY_NAMES, namesFrom: 0 },
];

export class CronError extends Error {
  override name = 'CronError';
}

function parseField(text: string, def: FieldDef): Ranges {
  const value = (token: string): number => {
    if (/^\d{1,2}$/.test(token)) return Number(token);
    const i = def.names?.indexOf(token.toUpperCase()) ?? -1;
    if (i < 0) throw new CronError(`${def.name}: "${token}" is not a value of ${def.min}-${def.max}`);
    return i + (def.namesFrom ?? 0);
  };
  const ranges: Ranges = [];
  for (const item of text.split(',')) {
    const m = item.match(/^([^/]+)(?:\/(\d{1,2}))?$/);
    if (!m) throw new CronError(`${def.name}: "${item}" is not a cron item`);
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1) throw new CronError(`${def.name}: step ${m[2]} is out of range`);
    let start: number;
    let end: number;
    if (m[1] === '*') {
      start = def.min;
      end = def.max;
    } else {
      const parts = m[1].split('-');
      if (parts.length > 2) throw new CronError(`${def.name}: "${item}" is not a cron item`);
      start = value(parts[0]);
      // `a/n` is a to the end of the field, every n (as in Vixie cron and Temporal).
      end = parts.length === 2 ? value(parts[1]) : m[2] === undefined ? start : def.max;
    }
    if (start < def.min || end > def.max || start > end) throw new CronError(`${def.name}: "${item}" is outside ${def.min}-${def.max}`);
    ranges.push({ start, end, step });
  }
  return ranges;
}

/**
 * A 5-field cron expression as calendars. When both day of month and day of week are restricted
 * (neither starts with `*`), classic cron fires on either: that is two calendars.
 */
export function cronCalendars(cron: string): Calendar[] {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) throw new CronError(`a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has ${fields.length}`);
  const [minute, hour, dayOfMonth, month, dayOfWeek] = fields.map((f, i) => parseField(f, FIELDS[i]));
  const comment = `cron "${fields.join(' ')}"`;
  const all = (def: FieldDef): Ranges => [{ start: def.min, end: def.max, step: 1 }];
  if (fields[2].startsWith('*') || fields[4].startsWith('*')) return [{ minute, hour, dayOfMonth, month, dayOfWeek, comment }];
  return [
    { minute, hour, dayOfMonth, month, dayOfWeek: all(FIELDS[4]), comment: `${comment}, by day of month` },
    { minute, hour, dayOfMonth: all(FIELDS[2]), month, dayOfWeek, comment: `${comment}, by day of week` },
  ];
}

/** The refresh schedule as calendars: one per time of day. */
export function refreshCalendars(s: RefreshSchedule): Calendar[] {
  const dayOfWeek: Ranges =
    s.days === 'daily' ? [{ start: 0, end: 6, step: 1 }] : s.days.map((d) => ({ start: WEEKDAYS.indexOf(d), end: WEEKDAYS.indexOf(d), step: 1 }));
  return s.times.map((t) => {
    const [h, m] = t.split(':').map(Number);
    return {
      minute: [{ start: m, end: m, step: 1 }],
      hour: [{ start: h, end: h, step: 1 }],
      dayOfMonth: [{ start: 1, end: 31, step: 1 }],
      month: [{ start: 1, end: 12, step: 1 }],
      dayOfWeek,
      comment: `refresh at ${t} ${s.days === 'daily' ? 'daily' : s.days.join(',')}`,
    };
  });
}

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

// ---------------------------------------------------------------- next run times

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timezone, f);
  }
  return f;
}

/** The wall-clock time at instant `t` in `timezone`, as milliseconds of a UTC date with the same fields. */
function wallClock(t: number, timezone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timezone).formatToParts(new Date(t))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour % 24, parts.minute, parts.second);
}

const offsetAt = (t: number, timezone: string) => wallClock(t, timezone) - Math.floor(t / 1000) * 1000;

const HOUR_MS = 3_600_000;
/** The server matches calendars up to this year. */
const LAST_YEAR = 2100;

/**
 * The instant a local date and time stands for, resolved as the Temporal server resolves it (Go's
 * time.Date): the offset in force at the local time read as UTC, corrected once when the result
 * falls outside it. Fields may overflow (hour 24 is the next day's 00).
 */
function localToInstant(y: number, mo: number, d: number, h: number, m: number, s: number, timezone: string): number {
  const wall = Date.UTC(y, mo - 1, d, h, m, s);
  const guess = offsetAt(wall, timezone);
  const t = wall - guess;
  const actual = offsetAt(t, timezone);
  return actual === guess ? t : wall - actual;
}

const localHour = (t: number, timezone: string) => new Date(wallClock(t, timezone)).getUTCHours();
const daysInMonth = (y: number, mo: number) => new Date(Date.UTC(y, mo, 0)).getUTCDate();

interface CompiledCalendar {
  minute: boolean[];
  hour: boolean[];
  dayOfMonth: boolean[];
  month: boolean[];
  dayOfWeek: boolean[];
}

function expand(ranges: Ranges, size: number): boolean[] {
  const set = new Array<boolean>(size).fill(false);
  for (const r of ranges) for (let v = r.start; v <= r.end; v += r.step || 1) set[v] = true;
  return set;
}

/**
 * The first time after `after` (second resolution) that a calendar matches, with the Temporal
 * server's daylight-saving behaviour:
 * - a local time skipped by a spring-forward change does not fire that day;
 * - a local time that happens twice in a fall-back change fires at the instant Go's time.Date
 *   picks for it (the later one east of UTC, the earlier one west of it), and fires again one hour
 *   later when the search walks into the repeated hour from the hour before it.
 * Null when nothing matches up to the server's last year.
 */
function nextOfCalendar(c: CompiledCalendar, after: number, timezone: string): number | null {
  const local = new Date(wallClock(after, timezone));
  let y = local.getUTCFullYear();
  let mo = local.getUTCMonth() + 1;
  let d = local.getUTCDate();
  let h = local.getUTCHours();
  let m = local.getUTCMinutes();
  let s = local.getUTCSeconds() + 1;
  // In the second copy of a repeated hour, keep finding times in that copy.
  let shift = localHour(after - HOUR_MS, timezone) === h ? HOUR_MS : 0;
  const second0 = (v: number) => v === 0;
  for (;;) {
    if (s >= 60) {
      m += 1;
      s = 0;
    }
    if (m >= 60) {
      const before = localToInstant(y, mo, d, h, 0, 0, timezone);
      h += 1;
      m = 0;
      const next = localToInstant(y, mo, d, h, 0, 0, timezone);
      // Two hours between consecutive local hours: the hour just left is repeated. Walk it again an hour later.
      if (shift === 0 && next - before > HOUR_MS) {
        h -= 1;
        shift = HOUR_MS;
      } else {
        shift = 0;
      }
    }
    if (h >= 24) {
      d += 1;
      h = 0;
    }
    if (d > daysInMonth(y, mo)) {
      mo += 1;
      d = 1;
    }
    if (mo > 12) {
      y += 1;
      mo = 1;
    }
    if (y > LAST_YEAR) return null;
    if (!c.month[mo]) {
      mo += 1;
      [d, h, m, s, shift] = [1, 0, 0, 0, 0];
      continue;
    }
    if (!c.dayOfMonth[d] || !c.dayOfWeek[new Date(Date.UTC(y, mo - 1, d)).getUTCDay()]) {
      d += 1;
      [h, m, s, shift] = [0, 0, 0, 0];
      continue;
    }
    if (!c.hour[h]) {
      h += 1;
      [m, s, shift] = [0, 0, 0];
      continue;
    }
    if (!c.minute[m]) {
      m += 1;
      s = 0;
      continue;
    }
    if (!second0(s)) {
      // Calendars fire at second 0 only.
      s = 60;
      continue;
    }
    const t = localToInstant(y, mo, d, h, m, s, timezone);
    // The local time does not exist (spring forward): go on from the next hour.
    if (localHour(t, timezone) !== h) {
      h += 1;
      [m, s] = [0, 0];
      continue;
    }
    return t + shift;
  }
}

/**
 * The next `count` times strictly after `from` at which the calendars fire in `timezone`, as the
 * Temporal server fires them (see nextOfCalendar; test/schedules checks both against the server).
 */
export function nextRunTimes(calendars: Calendar[], timezone: string, from: Date, count = 5): Date[] {
  const compiled: CompiledCalendar[] = calendars.map((c) => ({
    minute: expand(c.minute, 60),
    hour: expand(c.hour, 24),
    dayOfMonth: expand(c.dayOfMonth, 32),
    month: expand(c.month, 13),
    dayOfWeek: expand(c.dayOfWeek, 7),
  }));
  const found: Date[] = [];
  let after = Math.floor(from.getTime() / 1000) * 1000;
  while (found.length < count) {
    let next: number | null = null;
    for (const c of compiled) {
      const t = nextOfCalendar(c, after, timezone);
      if (t !== null && (next === null || t < next)) next = t;
    }
    if (next === null) break;
    found.push(new Date(next));
    after = next;
  }
  return found;
}

export const nextCronTimes = (cron: string, timezone: string, from: Date, count = 5) => nextRunTimes(cronCalendars(cron), timezone, from, count);

// ---------------------------------------------------------------- Temporal Schedule options

export interface ScheduleContext {
  client: Client;
  taskQueue: string;
}

export function exportScheduleOptions(exp: Pick<Export, 'id' | 'name'>, schedule: Extract<Schedule, { mode: 'custom' }>, taskQueue: string): ScheduleOptions {
  const args: [ScheduledExportRunInput] = [{ exportId: exp.id }];
  return {
    scheduleId: exportScheduleId(exp.id),
    spec: { calendars: toTemporalCalendars(cronCalendars(schedule.cron)), timezone: schedule.timezone },
    action: {
      type: 'startWorkflow',
      workflowType: SCHEDULED_EXPORT_RUN_WORKFLOW,
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
      workflowType: REFRESH_WORKFLOW,
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

// ---------------------------------------------------------------- sync with Temporal

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

export async function readRefreshSchedule(store: Store): Promise<{ schedule: RefreshSchedule; updatedAt: string | null }> {
  const setting = await store.settings.get<RefreshSchedule>(REFRESH_SETTING_KEY);
  return setting ? { schedule: setting.value, updatedAt: setting.updatedAt } : { schedule: DEFAULT_REFRESH_SCHEDULE, updatedAt: null };
}

/** Next run times of the refresh schedule (none when disabled). */
export function nextRefreshTimes(s: RefreshSchedule, from: Date, count = 5): Date[] {
  return s.enabled ? nextRunTimes(refreshCalendars(s), s.timezone, from, count) : [];
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
