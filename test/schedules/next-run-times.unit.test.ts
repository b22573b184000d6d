import { CronError, cronCalendars } from '../../services/cron';
import { normalizeRefreshSchedule, refreshCalendars } from '../../services/refresh-schedule';
import { toTemporalCalendars } from '../../services/schedule-options';

/**
 * The calendars a Temporal Schedule fires on, built from a cron expression or the refresh setting.
 * The Temporal server computes the next run times from them (the API answers its `describe()`);
 * temporal-agrees.test.ts checks on the real server that they fire when they should.
 */
describe('a cron expression as Temporal calendars', () => {
  it('is one calendar when either day field starts with *, two (day of month OR day of week) when both are restricted', () => {
    expect(cronCalendars('0 12 1 * mon')).toHaveLength(2);
    expect(cronCalendars('0 12 * * mon')).toHaveLength(1);
    expect(cronCalendars('0 12 */2 * mon')).toHaveLength(1);
    const [byDayOfMonth, byDayOfWeek] = cronCalendars('0 12 1 * mon');
    expect([byDayOfMonth.dayOfMonth, byDayOfMonth.dayOfWeek]).toEqual([[{ start: 1, end: 1, step: 1 }], [{ start: 0, end: 6, step: 1 }]]);
    expect([byDayOfWeek.dayOfMonth, byDayOfWeek.dayOfWeek]).toEqual([[{ start: 1, end: 31, step: 1 }], [{ start: 1, end: 1, step: 1 }]]);
  });

  it('reads steps, lists, ranges, names and `a/n` (from a to the end of the field)', () => {
    expect(cronCalendars('50/5 */20 * feb,DEC mon-FRI')).toEqual([
      {
        minute: [{ start: 50, end: 59, step: 5 }],
        hour: [{ start: 0, end: 23, step: 20 }],
        dayOfMonth: [{ start: 1, end: 31, step: 1 }],
        month: [{ start: 2, end: 2, step: 1 }, { start: 12, end: 12, step: 1 }],
        dayOfWeek: [{ start: 1, end: 5, step: 1 }],
        comment: 'cron "50/5 */20 * feb,DEC mon-FRI"',
      },
    ]);
    expect(cronCalendars('0 0 1-15/7 * *')[0].dayOfMonth).toEqual([{ start: 1, end: 15, step: 7 }]);
  });

  it.each([
    ['0 9 * *', /5 fields/],
    ['60 9 * * *', /minute/],
    ['0 24 * * *', /hour/],
    ['0 9 0 * *', /day of month/],
    ['0 9 * 13 *', /month/],
    ['0 9 * * 8', /day of week/],
    ['0 9 * * funday', /day of week/],
    ['5-1 9 * * *', /descending/],
    ['*/0 9 * * *', /step/],
    ['*/60 9 * * *', /step/],
    ['0 0 L * *', /day of month/],
    ['0 0 * * 5#3', /day of week/],
  ])('rejects the cron "%s"', (cron, message) => {
    expect(() => cronCalendars(cron)).toThrow(CronError);
    expect(() => cronCalendars(cron)).toThrow(message);
  });

  it('translates to Temporal calendar specs with names for months and days', () => {
    expect(toTemporalCalendars(cronCalendars('0 9 * mar-apr mon-fri/2'))).toEqual([
      {
        second: 0,
        minute: [{ start: 0, end: 0, step: 1 }],
        hour: [{ start: 9, end: 9, step: 1 }],
        dayOfMonth: [{ start: 1, end: 31, step: 1 }],
        month: [{ start: 'MARCH', end: 'APRIL', step: 1 }],
        dayOfWeek: [{ start: 'MONDAY', end: 'FRIDAY', step: 2 }],
        year: '*',
        comment: 'cron "0 9 * mar-apr mon-fri/2"',
      },
    ]);
  });
});

describe('the refresh schedule as Temporal calendars', () => {
  const schedule = normalizeRefreshSchedule({ times: ['18:00', '06:00'], timezone: 'Europe/Riga', days: ['fri', 'mon'], enabled: true });

  it('normalizes times and days', () => {
    expect(schedule).toEqual({ times: ['06:00', '18:00'], timezone: 'Europe/Riga', days: ['mon', 'fri'], enabled: true });
    expect(normalizeRefreshSchedule({ ...schedule, days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] }).days).toBe('daily');
  });

  it('is one calendar per time of day, on the chosen weekdays', () => {
    expect(refreshCalendars(schedule).map((c) => [c.hour, c.minute, c.dayOfWeek])).toEqual([
      [[{ start: 6, end: 6, step: 1 }], [{ start: 0, end: 0, step: 1 }], [{ start: 1, end: 1, step: 1 }, { start: 5, end: 5, step: 1 }]],
      [[{ start: 18, end: 18, step: 1 }], [{ start: 0, end: 0, step: 1 }], [{ start: 1, end: 1, step: 1 }, { start: 5, end: 5, step: 1 }]],
    ]);
  });
});
