import type { Store } from '../../store';
import { nextUtcMidnight } from '../../store/rate-limits';
import { storeKinds, type TestStore } from '../helpers/stores';
import { useStoreOpenedTwice } from './helpers';

describe.each(storeKinds)('rate-limit repository (%s)', (kind) => {
  let ts: TestStore;
  let other: Store;

  useStoreOpenedTwice(kind, (store, second) => {
    ts = store;
    other = second;
  });

  const limits = { perSecond: 4, perDay: 10_000 };
  const noon = Date.UTC(2026, 0, 15, 12, 0, 0);

  it('spaces slots by 1000/perSecond plus a safety margin, and counts the requests of the day', async () => {
    const repo = ts.store.rateLimits;
    const interval = repo.intervalMs(4);
    expect(interval).toBeGreaterThan(250);
    expect(interval).toBeLessThanOrEqual(300);
    const slots = [];
    for (let i = 0; i < 6; i++) slots.push(await repo.reserve('spacing', limits, noon));
    expect(slots).toEqual([0, 1, 2, 3, 4, 5].map((i) => ({ sendAtMs: noon + i * interval, usedToday: i + 1 })));
    // A request after a quiet period goes at once.
    expect(await repo.reserve('spacing', limits, noon + 60_000)).toEqual({ sendAtMs: noon + 60_000, usedToday: 7 });
  });

  it('never hands out the same slot twice to concurrent processes', async () => {
    const key = 'concurrent';
    const now = noon;
    const reservations = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? other : ts.store).rateLimits.reserve(key, limits, now)),
    );
    const times = reservations.map((r) => (r.exhausted ? -1 : r.sendAtMs)).sort((a, b) => a - b);
    const interval = ts.store.rateLimits.intervalMs(4);
    expect(times[0]).toBe(now);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBe(interval);
    // No rolling second holds more than perSecond slots.
    for (let i = 0; i + 4 < times.length; i++) expect(times[i + 4] - times[i]).toBeGreaterThan(1000);
  });

  it('answers with the next 00:00 UTC when the day is used up, and starts again then', async () => {
    const key = 'daily';
    const daily = { perSecond: 100, perDay: 3 };
    const late = Date.UTC(2026, 0, 15, 23, 59, 0);
    for (let i = 0; i < 3; i++) expect(await ts.store.rateLimits.reserve(key, daily, late)).not.toHaveProperty('exhausted', true);
    const midnight = Date.UTC(2026, 0, 16);
    expect(await other.rateLimits.reserve(key, daily, late + 1000)).toEqual({ exhausted: true, resetAtMs: midnight });
    expect(await ts.store.rateLimits.usedToday(key, late)).toBe(3);
    // A re-reservation (a late sender taking a new slot) is not another request of the day.
    expect(await ts.store.rateLimits.reserve(key, daily, late + 1000, { countDaily: false })).toHaveProperty('sendAtMs');
    expect(await ts.store.rateLimits.reserve(key, daily, midnight)).toEqual({ sendAtMs: midnight, usedToday: 1 });
    expect(await ts.store.rateLimits.usedToday(key, midnight)).toBe(1);
  });

  it('keeps keys apart', async () => {
    const a = await ts.store.rateLimits.reserve('key-a', limits, noon);
    const b = await ts.store.rateLimits.reserve('key-b', limits, noon);
    expect(a).toEqual({ sendAtMs: noon, usedToday: 1 });
    expect(b).toEqual({ sendAtMs: noon, usedToday: 1 });
  });

  it('computes the next UTC midnight', () => {
    expect(nextUtcMidnight(Date.UTC(2026, 1, 28, 0, 0, 0))).toBe(Date.UTC(2026, 2, 1));
    expect(nextUtcMidnight(Date.UTC(2026, 1, 28, 23, 59, 59, 999))).toBe(Date.UTC(2026, 2, 1));
  });
});
