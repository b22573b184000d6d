import { api, authorize, control, FakeClock, start, THROTTLED, type Running, type Tokens } from './helpers';

describe('sandbox rate limits per application key', () => {
  let s: Running;
  let clock: FakeClock;
  let t: Tokens;
  beforeEach(async () => {
    clock = new FakeClock();
    s = await start({ now: clock.now, ratePerSecond: 4, ratePerDay: 10_000 });
    t = await authorize(s.addr);
  });
  afterEach(() => s.close());

  it('answers the 5th request within one second 429 with the throttled body', async () => {
    for (let i = 0; i < 4; i++) expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(200);
    clock.advance(999);
    const fifth = await api(s.addr, t.access_token, 'GET', '/contact_lists');
    expect(fifth.status).toBe(429);
    expect(fifth.body).toEqual(THROTTLED);
    // The rolling second: one second after the first four, requests pass again.
    clock.advance(1);
    expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(200);
    const stats = await control(s.addr, 'GET', '/stats');
    expect(stats.body.throttled).toBe(1);
    expect(stats.body.throttledPerSecond).toBe(1);
    expect(stats.body.requests).toBe(6);
    expect(stats.body.maxRequestsInOneSecond).toBe(5);
  });

  it('is a rolling window, not a fixed second', async () => {
    clock.advance(900);
    for (let i = 0; i < 4; i++) expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(200);
    // A fixed-second limiter would have started a fresh second here.
    clock.advance(200);
    expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(429);
    clock.advance(800);
    expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(200);
  });

  it('shares the limit between every token of the application key', async () => {
    const other = await authorize(s.addr);
    for (let i = 0; i < 2; i++) expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await api(s.addr, other.access_token, 'GET', '/contact_lists')).status).toBe(200);
    expect((await api(s.addr, other.access_token, 'GET', '/contact_lists')).status).toBe(429);
    expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(429);
  });

  it('throttles every kind of /v3 request, bulk POSTs included', async () => {
    for (let i = 0; i < 4; i++) await api(s.addr, t.access_token, 'GET', '/contact_custom_fields');
    const res = await api(s.addr, t.access_token, 'POST', '/activities/contacts_json_import', { import_data: [{ email: 'a@example.com' }], list_ids: ['00000000-0000-4000-8000-000000000001'] });
    expect(res.status).toBe(429);
    expect(res.body).toEqual(THROTTLED);
  });

  it('does not count refused requests: throttled and unauthenticated requests use no quota', async () => {
    for (let i = 0; i < 10; i++) await api(s.addr, undefined, 'GET', '/contact_lists');
    for (let i = 0; i < 4; i++) expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(429);
    clock.advance(1000);
    expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(200);
    const stats = await control(s.addr, 'GET', '/stats');
    expect(stats.body.requestsToday).toBe(5);
    expect(stats.body.unauthorized).toBe(10);
  });

  it('limits requests per UTC day and starts again at 00:00 UTC', async () => {
    await control(s.addr, 'PUT', '/limits', { ratePerDay: 6 });
    clock.t = Date.UTC(2025, 0, 15, 23, 59, 0);
    let ok = 0;
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      const res = await api(s.addr, t.access_token, 'GET', '/contact_lists');
      if (res.status === 200) ok++;
      else {
        expect(res.status).toBe(429);
        expect(res.body).toEqual(THROTTLED);
      }
    }
    expect(ok).toBe(6);
    const stats = await control(s.addr, 'GET', '/stats');
    expect(stats.body.throttledPerDay).toBe(4);
    // Retrying later the same day does not help...
    clock.t = Date.UTC(2025, 0, 15, 23, 59, 59, 999);
    expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(429);
    // ...midnight UTC does.
    clock.t = Date.UTC(2025, 0, 16, 0, 0, 0);
    expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(200);
  });

  it('defaults to 10,000 a day', async () => {
    const limits = await control(s.addr, 'GET', '/limits');
    expect(limits.body).toMatchObject({ ratePerSecond: 4, ratePerDay: 10_000, maxQueuedActivities: 1000 });
  });

  it('takes new limits at runtime through PUT /__sandbox/limits', async () => {
    const res = await control(s.addr, 'PUT', '/limits', { ratePerSecond: 10 });
    expect(res.status).toBe(200);
    expect(res.body.ratePerSecond).toBe(10);
    const results = await Promise.all(Array.from({ length: 11 }, () => api(s.addr, t.access_token, 'GET', '/contact_lists')));
    expect(results.filter((r) => r.status === 200)).toHaveLength(10);
    expect(results.filter((r) => r.status === 429)).toHaveLength(1);
    expect((await control(s.addr, 'PUT', '/limits', { ratePerSecond: 0 })).status).toBe(400);
    expect((await control(s.addr, 'PUT', '/limits', { perSecond: 3 })).status).toBe(400);
  });
});

describe('sandbox rate limits with the real clock', () => {
  it('lets 4 of 5 simultaneous requests through and throttles the 5th', async () => {
    const s = await start({ ratePerSecond: 4 });
    try {
      const t = await authorize(s.addr);
      const results = await Promise.all(Array.from({ length: 5 }, () => api(s.addr, t.access_token, 'GET', '/contact_lists')));
      expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 429]);
      expect(results.find((r) => r.status === 429)!.body).toEqual(THROTTLED);
    } finally {
      await s.close();
    }
  });

  it('serves a client paced at 4 a second without a single 429', async () => {
    const s = await start({ ratePerSecond: 4 });
    try {
      const t = await authorize(s.addr);
      // A client that sends a request only once 1 s has passed since the answer to the request 4 before
      // it (the answer comes after that request's arrival, so arrivals are >= 1 s apart too).
      const answered: number[] = [];
      for (let i = 0; i < 12; i++) {
        if (i >= 4) {
          const wait = answered[i - 4] + 1001 - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        }
        expect((await api(s.addr, t.access_token, 'GET', '/contact_lists')).status).toBe(200);
        answered.push(Date.now());
      }
      const stats = await control(s.addr, 'GET', '/stats');
      expect(stats.body.throttled).toBe(0);
      expect(stats.body.maxRequestsInOneSecond).toBeLessThanOrEqual(4);
    } finally {
      await s.close();
    }
  });
});
