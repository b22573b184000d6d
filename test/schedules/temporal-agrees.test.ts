import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { normalizeRefreshSchedule } from '../../services/refresh-schedule';
import { exportScheduleOptions, refreshScheduleOptions } from '../../services/schedule-options';
import { deleteSchedule, nextActionTimes } from '../../services/schedule-sync';
import { connectTestClient } from '../helpers/temporal';

/**
 * The next run times the API answers are the Temporal server's (`describe()` of the schedule).
 * Here the real server says when the calendars built from a cron expression or the refresh setting
 * fire, across daylight-saving changes: `spec.startAt` moves the server's view to the days around a
 * change (it computes its next action times from there).
 */
describe('the Temporal server fires our schedules when the cron expression says', () => {
  let client: Client;
  const created: string[] = [];
  const taskQueue = `schedules-agree-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    client = await connectTestClient();
  });

  afterAll(async () => {
    for (const id of created) await deleteSchedule(client, id).catch(() => undefined);
    await client.connection.close();
  });

  /** The server's next times of a paused copy of the schedule that starts at `startAt`. */
  async function serverTimes(options: ReturnType<typeof exportScheduleOptions>, startAt: string, count: number): Promise<string[]> {
    const handle = await client.schedule.create({ ...options, spec: { ...options.spec, startAt: new Date(startAt) }, state: { ...options.state, paused: true } });
    created.push(handle.scheduleId);
    return (await nextActionTimes(client, handle.scheduleId, count)).map((d) => d.toISOString().replace('.000Z', 'Z'));
  }

  const cronTimes = (cron: string, timezone: string, startAt: string, count: number) =>
    serverTimes(exportScheduleOptions({ id: `exp_${randomBytes(8).toString('hex')}`, name: 'Agreement check' }, { mode: 'custom', cron, timezone }, taskQueue), startAt, count);

  it.each([
    // Last Sunday of March 2027 is the 28th: 03:00 EET becomes 04:00 EEST, so 09:00 is 07:00Z, then 06:00Z.
    ['0 9 * * *', 'Europe/Riga', '2027-03-26T00:00:00Z', ['2027-03-26T07:00:00Z', '2027-03-27T07:00:00Z', '2027-03-28T06:00:00Z', '2027-03-29T06:00:00Z']],
    // Last Sunday of October 2027 is the 31st: 04:00 EEST becomes 03:00 EET.
    ['0 9 * * *', 'Europe/Riga', '2027-10-29T12:00:00Z', ['2027-10-30T06:00:00Z', '2027-10-31T07:00:00Z', '2027-11-01T07:00:00Z']],
    // 28 March has no 03:30 in Riga: that day does not fire.
    ['30 3 * * *', 'Europe/Riga', '2027-03-26T12:00:00Z', ['2027-03-27T01:30:00Z', '2027-03-29T00:30:00Z', '2027-03-30T00:30:00Z']],
    // 03:30 happens twice on 31 October in Riga: the server fires once, at the later one (EET).
    ['30 3 * * *', 'Europe/Riga', '2027-10-30T12:00:00Z', ['2027-10-31T01:30:00Z', '2027-11-01T01:30:00Z', '2027-11-02T01:30:00Z']],
    // West of UTC it fires at both 01:30s (EDT, then EST); 7 November 2027 is New York's fall-back day.
    ['30 1 * * *', 'America/New_York', '2027-11-06T12:00:00Z', ['2027-11-07T05:30:00Z', '2027-11-07T06:30:00Z', '2027-11-08T06:30:00Z']],
    ['*/20 10-11 * * *', 'UTC', '2027-01-01T10:30:00Z', ['2027-01-01T10:40:00Z', '2027-01-01T11:00:00Z', '2027-01-01T11:20:00Z', '2027-01-01T11:40:00Z']],
    // Mondays and Fridays of February at 08:15 in New York (EST, UTC-5).
    ['15 8 * feb MON,fri', 'America/New_York', '2027-01-01T00:00:00Z', ['2027-02-01T13:15:00Z', '2027-02-05T13:15:00Z', '2027-02-08T13:15:00Z']],
    // `a/n`: from a to the end of the field, every n.
    ['50/5 0 1 1 *', 'UTC', '2027-01-01T00:00:00Z', ['2027-01-01T00:50:00Z', '2027-01-01T00:55:00Z', '2028-01-01T00:50:00Z']],
    // Day of month OR day of week (classic cron): 1 March 2027 is a Monday; then every Monday, and 1 April (a Thursday).
    [
      '0 12 1 * mon',
      'UTC',
      '2027-03-01T00:00:00Z',
      ['2027-03-01T12:00:00Z', '2027-03-08T12:00:00Z', '2027-03-15T12:00:00Z', '2027-03-22T12:00:00Z', '2027-03-29T12:00:00Z', '2027-04-01T12:00:00Z', '2027-04-05T12:00:00Z'],
    ],
    // With a `*` in a day field they AND: odd days that are Mondays.
    ['0 12 */2 * mon', 'UTC', '2027-03-01T00:00:00Z', ['2027-03-01T12:00:00Z', '2027-03-15T12:00:00Z', '2027-03-29T12:00:00Z']],
    ['0 0 29 2 *', 'UTC', '2026-12-01T00:00:00Z', ['2028-02-29T00:00:00Z', '2032-02-29T00:00:00Z']],
  ])('cron "%s" in %s from %s', async (cron, timezone, startAt, expected) => {
    expect(await cronTimes(cron, timezone, startAt, expected.length)).toEqual(expected);
  });

  it('the refresh schedule across the spring change in Europe/Riga', async () => {
    const s = normalizeRefreshSchedule({ times: ['06:00', '18:00', '03:30'], timezone: 'Europe/Riga', days: ['sat', 'sun', 'mon'], enabled: true });
    const options = { ...refreshScheduleOptions(s, taskQueue), scheduleId: `refresh-agree-${randomBytes(4).toString('hex')}` };
    // Sunday 28 March has no 03:30 in Riga.
    expect(await serverTimes(options, '2027-03-26T00:00:00Z', 6)).toEqual([
      '2027-03-27T01:30:00Z',
      '2027-03-27T04:00:00Z',
      '2027-03-27T16:00:00Z',
      '2027-03-28T03:00:00Z',
      '2027-03-28T15:00:00Z',
      '2027-03-29T00:30:00Z',
    ]);
  });

  it('a schedule that does not exist has no next run times', async () => {
    expect(await nextActionTimes(client, `export-schedule-exp_${randomBytes(8).toString('hex')}`, 5)).toEqual([]);
  });
});
