import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { REFRESH_SETTING_KEY, type RefreshSchedule } from '../../services/refresh-schedule';
import { exportScheduleId, exportScheduleOptions, refreshScheduleId } from '../../services/schedule-options';
import { deleteSchedule, reconcileSchedules } from '../../services/schedule-sync';
import { createTestStore, type TestStore } from '../helpers/stores';
import { connectTestClient } from '../helpers/temporal';
import { uniqueTaskQueue } from '../helpers/worker';

/**
 * After a crash between a store write and its Temporal sync, reconcileSchedules brings the
 * Temporal Schedules of this deployment (its task queue) in line with the store, and leaves every
 * other deployment's schedules alone.
 */
describe('reconciling Temporal Schedules with the store', () => {
  let t: TestStore;
  let client: Client;
  const taskQueue = uniqueTaskQueue('reconcile');
  const otherQueue = uniqueTaskQueue('reconcile-other');
  const created: string[] = [];

  beforeAll(async () => {
    t = await createTestStore('sqlite');
    client = await connectTestClient();
  });

  afterAll(async () => {
    for (const id of created) await deleteSchedule(client, id).catch(() => undefined);
    await client?.connection.close();
    await t?.destroy();
  });

  it('creates missing schedules, removes stale ones of its task queue, and syncs the refresh schedule', async () => {
    const now = new Date().toISOString();
    const { store } = t;
    const connection = await store.connections.create({ displayName: 'Account', usableBy: 'admins', now });
    const segment = await store.segments.create({ name: 'Everyone', rule: { all: [] } });
    const fields = {
      connectionId: connection.id,
      listId: '00000000-0000-4000-8000-000000000001',
      mapping: { email: 'EmailAddress' },
      segmentIds: [segment.id],
      syncMode: 'upsert' as const,
      maxRemovalPercent: 20,
    };
    const custom = await store.exports.create({ ...fields, name: 'Custom', schedule: { mode: 'custom', cron: '15 8 * * *', timezone: 'Europe/Riga' } }, { createdByRole: 'admin', now });
    const off = await store.exports.create({ ...fields, name: 'Off now', schedule: { mode: 'off' } }, { createdByRole: 'admin', now });
    if ('refused' in custom || 'refused' in off) throw new Error('export not created');
    created.push(exportScheduleId(custom.id), exportScheduleId(off.id), refreshScheduleId(taskQueue));

    // A schedule left behind for an export that is `off` now, and one of another deployment.
    const stale = exportScheduleOptions(off, { mode: 'custom', cron: '0 1 * * *', timezone: 'UTC' }, taskQueue);
    await client.schedule.create({ ...stale, state: { paused: true } });
    const foreignExport = { id: 'exp_0000000000foreign000', name: 'Someone else' };
    const foreign = exportScheduleOptions(foreignExport, { mode: 'custom', cron: '0 1 * * *', timezone: 'UTC' }, otherQueue);
    await client.schedule.create({ ...foreign, state: { paused: true } });
    created.push(foreign.scheduleId);
    const refresh: RefreshSchedule = { times: ['05:45'], timezone: 'Europe/Riga', days: 'daily', enabled: true };
    await store.settings.set(REFRESH_SETTING_KEY, refresh);

    // The list of schedules is eventually consistent: wait until both just created are visible.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ids = new Set<string>();
      for await (const s of client.schedule.list()) ids.add(s.scheduleId);
      if (ids.has(stale.scheduleId) && ids.has(foreign.scheduleId)) break;
      if (Date.now() > deadline) throw new Error('the schedules did not show up in the list');
      await new Promise((r) => setTimeout(r, 250));
    }

    const result = await reconcileSchedules({ client, taskQueue }, store);
    expect(result.upserted).toEqual([custom.id]);
    expect(result.deleted).toEqual([off.id]);

    const customDescribed = await client.schedule.getHandle(exportScheduleId(custom.id)).describe();
    expect(customDescribed.spec.timezone).toBe('Europe/Riga');
    expect(customDescribed.action.taskQueue).toBe(taskQueue);
    await expect(client.schedule.getHandle(exportScheduleId(off.id)).describe()).rejects.toThrow(ScheduleNotFoundError);
    expect((await client.schedule.getHandle(foreign.scheduleId).describe()).action.taskQueue).toBe(otherQueue);
    const refreshDescribed = await client.schedule.getHandle(refreshScheduleId(taskQueue)).describe();
    expect(refreshDescribed.state.paused).toBe(false);
    expect(refreshDescribed.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 5 }], minute: [{ start: 45 }] });
  });
});
