import type { Store } from '../store';
import type { Calendar, Ranges } from './cron';

/**
 * The refresh schedule: the setting `refresh-schedule` in the store (times of day in a time zone,
 * on some weekdays), which one Temporal Schedule mirrors (services/schedule-sync.ts). It refreshes
 * every segment, then runs every export whose schedule mode is `with-refresh`.
 */

export const REFRESH_SETTING_KEY = 'refresh-schedule';

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

/** The refresh schedule as calendars: one per time of day. */
export function refreshCalendars(s: RefreshSchedule): Calendar[] {
  const only = (v: number): Ranges => [{ start: v, end: v, step: 1 }];
  const dayOfWeek: Ranges = s.days === 'daily' ? [{ start: 0, end: 6, step: 1 }] : s.days.flatMap((d) => only(WEEKDAYS.indexOf(d)));
  return s.times.map((t) => {
    const [h, m] = t.split(':').map(Number);
    return {
      minute: only(m),
      hour: only(h),
      dayOfMonth: [{ start: 1, end: 31, step: 1 }],
      month: [{ start: 1, end: 12, step: 1 }],
      dayOfWeek,
      comment: `refresh at ${t} ${s.days === 'daily' ? 'daily' : s.days.join(',')}`,
    };
  });
}

/** The stored refresh schedule; the disabled default (updatedAt null) until an admin sets one. */
export async function readRefreshSchedule(store: Store): Promise<{ schedule: RefreshSchedule; updatedAt: string | null }> {
  const setting = await store.settings.get<RefreshSchedule>(REFRESH_SETTING_KEY);
  return setting ? { schedule: setting.value, updatedAt: setting.updatedAt } : { schedule: DEFAULT_REFRESH_SCHEDULE, updatedAt: null };
}
