import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import {
  deleteSchedule,
  exportScheduleOptions,
  nextRefreshTimes,
  nextRunTimes,
  cronCalendars,
  normalizeRefreshSchedule,
  refreshScheduleOptions,
} from '../../common/schedules';
import { connectTestClient } from '../helpers/temporal';

/**
 * The next run times the API answers are computed by common/schedules.ts; here the real Temporal
 * server says when the same schedules would fire. `spec.startAt` moves the server's view to the
 * days around a daylight-saving change (the server computes its next action times from there).
 */
describe('next run times agree with the Temporal server', () => {
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

  async function serverTimes(options: ReturnType<typeof exportScheduleOptions>, startAt: Date): Promise<string[]> {
    const handle = await client.schedule.create({ ...options, spec: { ...options.spec, startAt }, state: { ...options.state, paused: true } });
    created.push(handle.scheduleId);
    const description = await handle.describe();
    return description.info.nextActionTimes.map((d) => d.toISOString());
  }

  it.each([
    ['0 9 * * *', 'Europe/Riga', '2027-03-25T00:00:00Z'],
    ['0 9 * * *', 'Europe/Riga', '2027-10-28T00:00:00Z'],
    ['30 3 * * *', 'Europe/Riga', '2027-03-26T00:00:00Z'],
    ['30 3 * * *', 'Europe/Riga', '2027-10-29T00:00:00Z'],
    ['0 12 1 * mon', 'UTC', '2027-03-01T00:00:00Z'],
    ['*/20 22-23 * * 1-5', 'America/New_York', '2027-03-12T00:00:00Z'],
    ['30 1 * * *', 'America/New_York', '2027-11-05T00:00:00Z'],
    ['30 2 * * *', 'America/New_York', '2027-03-12T00:00:00Z'],
    ['0 10 * * *', 'Australia/Sydney', '2027-04-01T00:00:00Z'],
    ['30 2 * * *', 'Europe/Riga', '2027-10-29T00:00:00Z'],
    ['*/30 2-4 * * *', 'Europe/Riga', '2027-10-31T00:00:00Z'],
    ['0 0 29 2 *', 'UTC', '2027-01-01T00:00:00Z'],
    ['45 2 * * *', 'Australia/Sydney', '2027-10-01T00:00:00Z'],
  ])('cron "%s" in %s from %s', async (cron, timezone, from) => {
    const exportId = `exp_${randomBytes(8).toString('hex')}`;
    const options = exportScheduleOptions({ id: exportId, name: 'Agreement check' }, { mode: 'custom', cron, timezone }, taskQueue);
    const startAt = new Date(from);
    const fromServer = await serverTimes(options, startAt);
    expect(fromServer.length).toBeGreaterThanOrEqual(5);
    // startAt is inclusive for the server, our computation answers times strictly after `from`.
    const ours = nextRunTimes(cronCalendars(cron), timezone, new Date(startAt.getTime() - 1), fromServer.length).map((d) => d.toISOString());
    expect(ours).toEqual(fromServer);
  });

  it('the refresh schedule across the spring change in Europe/Riga', async () => {
    const s = normalizeRefreshSchedule({ times: ['06:00', '18:00', '03:30'], timezone: 'Europe/Riga', days: ['sat', 'sun', 'mon'], enabled: true });
    const options = refreshScheduleOptions(s, taskQueue);
    const startAt = new Date('2027-03-26T00:00:00Z');
    const fromServer = await serverTimes({ ...options, scheduleId: `refresh-agree-${randomBytes(4).toString('hex')}` }, startAt);
    expect(fromServer.length).toBeGreaterThanOrEqual(5);
    const ours = nextRefreshTimes(s, new Date(startAt.getTime() - 1), fromServer.length).map((d) => d.toISOString());
    expect(ours).toEqual(fromServer);
    // Sunday 28 March has no 03:30 in Riga.
    expect(ours.slice(0, 6)).toEqual([
      '2027-03-27T01:30:00.000Z',
      '2027-03-27T04:00:00.000Z',
      '2027-03-27T16:00:00.000Z',
      '2027-03-28T03:00:00.000Z',
      '2027-03-28T15:00:00.000Z',
      '2027-03-29T00:30:00.000Z',
    ]);
  });
});
