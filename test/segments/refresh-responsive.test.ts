import { benchProfile } from '../../bench/profiles';
import { createProfilesApp, type ProfilesApp } from '../helpers/profiles';

/**
 * A segment refresh grows with the number of profiles. On SQLite it runs in the store's worker
 * thread with its own connection, so the API keeps answering while it runs, and the refresh still
 * answers with the new member count when it is done.
 */

const PROFILES = 200_000;

describe('a segment refresh over 200,000 profiles on SQLite', () => {
  let app: ProfilesApp;
  beforeAll(async () => {
    app = await createProfilesApp('sqlite');
    for (let from = 0; from < PROFILES; from += 10_000) {
      const batch = Array.from({ length: 10_000 }, (_, k) => {
        const { id, ...attributes } = benchProfile(from + k);
        return { id, attributes };
      });
      await app.store.profiles.upsertMany(batch);
    }
  }, 300_000);
  afterAll(() => app.close());

  it('leaves /healthz and the reads answering within 250 ms while it runs', async () => {
    // contains and startsWith fold case in JavaScript for every profile: the slowest kind of rule.
    const rule = { any: [{ attribute: 'email', op: 'contains', value: 'EXAMPLE' }, { attribute: 'city', op: 'startsWith', value: 'rī' }] };
    const segment = await app.request('POST', '/v1/segments', { body: { name: 'Everyone with an email', rule } });
    let done = false;
    const started = Date.now();
    const refresh = app.request('POST', `/v1/segments/${segment.body.id}/refresh`).finally(() => (done = true));

    const latencies: { path: string; ms: number }[] = [];
    while (!done) {
      for (const path of ['/healthz', `/v1/segments/${segment.body.id}`]) {
        const t = Date.now();
        const res = await app.request('GET', path);
        expect(res.status).toBe(200);
        if (!done) latencies.push({ path, ms: Date.now() - t });
      }
    }
    const answer = await refresh;
    const refreshMs = Date.now() - started;

    const expected = Array.from({ length: PROFILES }, (_, i) => benchProfile(i)).filter((p) => p.email !== null || p.city === 'Rīga').length;
    expect(answer.status).toBe(200);
    expect(answer.body.memberCount).toBe(expected);
    // The requests overlapped the refresh, which took longer than any of them.
    expect(latencies.length).toBeGreaterThan(4);
    const slowest = Math.max(...latencies.map((l) => l.ms));
    expect(slowest).toBeLessThanOrEqual(250);
    expect(refreshMs).toBeGreaterThan(slowest);
  });
});
