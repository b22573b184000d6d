import { benchProfile } from '../../bench/profiles';
import { createProfilesApp, type ProfilesApp } from '../helpers/profiles';

/**
 * A profile import grows with its body. On a SQLite file it is parsed and written in a thread of
 * the store, so the API keeps answering while the body streams in, and the import still answers
 * with its counts when it is done.
 */

const PROFILES = 200_000;
const LINES_PER_CHUNK = 500;

describe('a profile import of 200,000 profiles on SQLite', () => {
  let app: ProfilesApp;
  beforeAll(async () => {
    app = await createProfilesApp('sqlite');
  });
  afterAll(() => app.close());

  it('leaves /healthz and the reads answering within 250 ms while it runs', async () => {
    // Generated beforehand: the client shares this process, and only the import is measured.
    const chunks: Buffer[] = [];
    for (let from = 0; from < PROFILES; from += LINES_PER_CHUNK) {
      let chunk = '';
      for (let i = from; i < from + LINES_PER_CHUNK; i++) chunk += `${JSON.stringify(benchProfile(i))}\n`;
      chunks.push(Buffer.from(chunk));
    }
    async function* body() {
      yield* chunks;
    }
    // A running API has served these routes before: their first call (connection, compiled code) is not the import's cost.
    for (const path of ['/healthz', '/v1/segments']) expect((await app.request('GET', path)).status).toBe(200);
    let done = false;
    const started = Date.now();
    const importing = app.request('POST', '/v1/profiles/import', { raw: body(), contentType: 'application/x-ndjson' }).finally(() => (done = true));

    const latencies: number[] = [];
    while (!done) {
      for (const path of ['/healthz', '/v1/segments']) {
        const t = Date.now();
        const res = await app.request('GET', path);
        expect(res.status).toBe(200);
        if (!done) latencies.push(Date.now() - t);
      }
    }
    const answer = await importing;
    const importMs = Date.now() - started;

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ received: PROFILES, upserted: PROFILES, rejected: 0 });
    expect(await app.store.profiles.count()).toBe(PROFILES);
    // The requests overlapped the import, which took longer than any of them.
    expect(latencies.length).toBeGreaterThan(4);
    const slowest = Math.max(...latencies);
    expect(slowest).toBeLessThanOrEqual(250);
    expect(importMs).toBeGreaterThan(slowest);
  });
});
