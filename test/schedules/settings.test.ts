import { createTestStore, storeKinds, type TestStore } from '../helpers/stores';
import { DEFAULT_REFRESH_SCHEDULE, REFRESH_SETTING_KEY, readRefreshSchedule, type RefreshSchedule } from '../../services/refresh-schedule';

describe.each(storeKinds)('settings repository on %s', (kind) => {
  let t: TestStore;

  beforeAll(async () => {
    t = await createTestStore(kind);
  });

  afterAll(async () => {
    await t?.destroy();
  });

  it('keeps one JSON value per key, replaced whole on set', async () => {
    const { settings } = t.store;
    expect(await settings.get('nothing-here')).toBeUndefined();

    const first: RefreshSchedule = { times: ['06:00', '18:00'], timezone: 'Europe/Riga', days: ['mon', 'fri'], enabled: true };
    const saved = await settings.set(REFRESH_SETTING_KEY, first, new Date('2027-01-02T03:04:05Z'));
    expect(saved).toEqual({ value: first, updatedAt: '2027-01-02T03:04:05.000Z' });
    expect(await settings.get(REFRESH_SETTING_KEY)).toEqual({ value: first, updatedAt: '2027-01-02T03:04:05.000Z' });

    const second: RefreshSchedule = { times: ['07:30'], timezone: 'UTC', days: 'daily', enabled: false };
    await settings.set(REFRESH_SETTING_KEY, second, new Date('2027-02-03T04:05:06Z'));
    expect(await settings.get(REFRESH_SETTING_KEY)).toEqual({ value: second, updatedAt: '2027-02-03T04:05:06.000Z' });

    // Other keys and other JSON values stand apart.
    await settings.set('a-number', 42);
    await settings.set('a-string', 'it\'s "quoted"');
    expect((await settings.get('a-number'))?.value).toBe(42);
    expect((await settings.get('a-string'))?.value).toBe('it\'s "quoted"');

    expect(await settings.delete('a-number')).toBe(true);
    expect(await settings.delete('a-number')).toBe(false);
    expect(await settings.get('a-number')).toBeUndefined();
  });

  it('reads the refresh schedule, with the disabled default until one is set', async () => {
    const fresh = await createTestStore(kind);
    try {
      expect(await readRefreshSchedule(fresh.store)).toEqual({ schedule: DEFAULT_REFRESH_SCHEDULE, updatedAt: null });
      expect(DEFAULT_REFRESH_SCHEDULE.enabled).toBe(false);
    } finally {
      await fresh.destroy();
    }
  });
});
