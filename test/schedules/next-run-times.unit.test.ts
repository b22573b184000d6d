import {
  CronError,
  cronCalendars,
  nextCronTimes,
  nextRefreshTimes,
  normalizeRefreshSchedule,
  refreshCalendars,
  toTemporalCalendars,
} from '../../common/schedules';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

describe('next run times of a cron in a time zone', () => {
  it('follows Europe/Riga across the spring change: 09:00 local is 07:00Z before and 06:00Z after', () => {
    // Last Sunday of March 2027 is the 28th: 03:00 EET becomes 04:00 EEST.
    expect(iso(nextCronTimes('0 9 * * *', 'Europe/Riga', new Date('2027-03-26T00:00:00Z'), 4))).toEqual([
      '2027-03-26T07:00:00.000Z',
      '2027-03-27T07:00:00.000Z',
      '2027-03-28T06:00:00.000Z',
      '2027-03-29T06:00:00.000Z',
    ]);
  });

  it('follows Europe/Riga across the autumn change: 09:00 local is 06:00Z before and 07:00Z after', () => {
    // Last Sunday of October 2027 is the 31st: 04:00 EEST becomes 03:00 EET.
    expect(iso(nextCronTimes('0 9 * * *', 'Europe/Riga', new Date('2027-10-29T12:00:00Z'), 3))).toEqual([
      '2027-10-30T06:00:00.000Z',
      '2027-10-31T07:00:00.000Z',
      '2027-11-01T07:00:00.000Z',
    ]);
  });

  it('skips a local time that does not exist on the spring-forward day, as Temporal does', () => {
    expect(iso(nextCronTimes('30 3 * * *', 'Europe/Riga', new Date('2027-03-26T12:00:00Z'), 3))).toEqual([
      '2027-03-27T01:30:00.000Z',
      // 28 March has no 03:30
      '2027-03-29T00:30:00.000Z',
      '2027-03-30T00:30:00.000Z',
    ]);
  });

  it('fires at a local time that happens twice on the fall-back day as the Temporal server does', () => {
    // East of UTC the server fires once, at the later 03:30 (EET) ...
    expect(iso(nextCronTimes('30 3 * * *', 'Europe/Riga', new Date('2027-10-30T12:00:00Z'), 3))).toEqual([
      '2027-10-31T01:30:00.000Z',
      '2027-11-01T01:30:00.000Z',
      '2027-11-02T01:30:00.000Z',
    ]);
    // ... west of UTC it fires at both 01:30s (EDT, then EST); 7 November 2027 is New York's fall-back day.
    expect(iso(nextCronTimes('30 1 * * *', 'America/New_York', new Date('2027-11-06T12:00:00Z'), 3))).toEqual([
      '2027-11-07T05:30:00.000Z',
      '2027-11-07T06:30:00.000Z',
      '2027-11-08T06:30:00.000Z',
    ]);
  });

  it('answers only times strictly after the given instant', () => {
    expect(iso(nextCronTimes('0 9 * * *', 'UTC', new Date('2027-01-01T09:00:00Z'), 1))).toEqual(['2027-01-02T09:00:00.000Z']);
    expect(iso(nextCronTimes('0 9 * * *', 'UTC', new Date('2027-01-01T08:59:59Z'), 1))).toEqual(['2027-01-01T09:00:00.000Z']);
  });

  it('handles steps, lists, ranges and names', () => {
    expect(iso(nextCronTimes('*/20 10-11 * * *', 'UTC', new Date('2027-01-01T10:30:00Z'), 4))).toEqual([
      '2027-01-01T10:40:00.000Z',
      '2027-01-01T11:00:00.000Z',
      '2027-01-01T11:20:00.000Z',
      '2027-01-01T11:40:00.000Z',
    ]);
    // Mondays and Fridays of February at 08:15 in New York (EST, UTC-5)
    expect(iso(nextCronTimes('15 8 * feb MON,fri', 'America/New_York', new Date('2027-01-01T00:00:00Z'), 3))).toEqual([
      '2027-02-01T13:15:00.000Z',
      '2027-02-05T13:15:00.000Z',
      '2027-02-08T13:15:00.000Z',
    ]);
    // `a/n`: from a to the end of the field, every n
    expect(iso(nextCronTimes('50/5 0 1 1 *', 'UTC', new Date('2027-01-01T00:00:00Z'), 3))).toEqual([
      '2027-01-01T00:50:00.000Z',
      '2027-01-01T00:55:00.000Z',
      '2028-01-01T00:50:00.000Z',
    ]);
  });

  it('fires on the day of month or the day of week when both are restricted (classic cron)', () => {
    // 1 March 2027 is a Monday; then every Monday, and 1 April (a Thursday).
    expect(iso(nextCronTimes('0 12 1 * mon', 'UTC', new Date('2027-03-01T00:00:00Z'), 7))).toEqual([
      '2027-03-01T12:00:00.000Z',
      '2027-03-08T12:00:00.000Z',
      '2027-03-15T12:00:00.000Z',
      '2027-03-22T12:00:00.000Z',
      '2027-03-29T12:00:00.000Z',
      '2027-04-01T12:00:00.000Z',
      '2027-04-05T12:00:00.000Z',
    ]);
    expect(cronCalendars('0 12 1 * mon')).toHaveLength(2);
    // With a `*` in either day field they are one calendar (every day of month AND Mondays).
    expect(cronCalendars('0 12 * * mon')).toHaveLength(1);
    expect(cronCalendars('0 12 */2 * *')).toHaveLength(1);
  });

  it('finds a rare date years ahead (29 February)', () => {
    expect(iso(nextCronTimes('0 0 29 2 *', 'UTC', new Date('2026-12-01T00:00:00Z'), 2))).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
    ]);
  });

  it.each([
    ['0 9 * *', /5 fields/],
    ['60 9 * * *', /minute/],
    ['0 24 * * *', /hour/],
    ['0 9 0 * *', /day of month/],
    ['0 9 * 13 *', /month/],
    ['0 9 * * 8', /day of week/],
    ['0 9 * * funday', /day of week/],
    ['5-1 9 * * *', /minute/],
    ['*/0 9 * * *', /step/],
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

describe('next run times of the refresh schedule', () => {
  const schedule = normalizeRefreshSchedule({ times: ['18:00', '06:00'], timezone: 'Europe/Riga', days: ['fri', 'mon'], enabled: true });

  it('normalizes times and days', () => {
    expect(schedule).toEqual({ times: ['06:00', '18:00'], timezone: 'Europe/Riga', days: ['mon', 'fri'], enabled: true });
    expect(normalizeRefreshSchedule({ ...schedule, days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] }).days).toBe('daily');
    expect(refreshCalendars(schedule)).toHaveLength(2);
  });

  it('lists every time on the chosen days across the spring change', () => {
    // Fri 26 March 2027 (EET, UTC+2), Mon 29 March 2027 (EEST, UTC+3)
    expect(iso(nextRefreshTimes(schedule, new Date('2027-03-25T00:00:00Z'), 4))).toEqual([
      '2027-03-26T04:00:00.000Z',
      '2027-03-26T16:00:00.000Z',
      '2027-03-29T03:00:00.000Z',
      '2027-03-29T15:00:00.000Z',
    ]);
  });

  it('lists nothing when disabled', () => {
    expect(nextRefreshTimes({ ...schedule, enabled: false }, new Date('2027-03-25T00:00:00Z'))).toEqual([]);
  });
});
