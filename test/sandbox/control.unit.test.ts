import { api, authorize, control, DEFAULT_LIST, http, importContacts, members, THROTTLED, useAuthorizedSandbox, waitForActivity } from './helpers';

describe('sandbox faults', () => {
  const sb = useAuthorizedSandbox();
  afterEach(() => control(sb.addr, 'PUT', '/faults', {}));

  it('errorRate answers 500 or 503 with the array error body', async () => {
    const res = await control(sb.addr, 'PUT', '/faults', { errorRate: 1 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ errorRate: 1, throttleRate: 0, resetRate: 0, latencyMs: 0 });
    const statuses = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const r = await api(sb.addr, sb.token, 'GET', '/contact_lists');
      expect([500, 503]).toContain(r.status);
      expect(r.body).toEqual([{ error_key: expect.any(String), error_message: expect.any(String) }]);
      statuses.add(r.status);
    }
    expect([...statuses].sort()).toEqual([500, 503]);
    await control(sb.addr, 'PUT', '/faults', { errorRate: 0 });
    expect((await api(sb.addr, sb.token, 'GET', '/contact_lists')).status).toBe(200);
  });

  it('errorRate between 0 and 1 fails about that share of requests', async () => {
    await control(sb.addr, 'PUT', '/faults', { errorRate: 0.5 });
    let failed = 0;
    for (let i = 0; i < 100; i++) if ((await api(sb.addr, sb.token, 'GET', '/contact_lists')).status >= 500) failed++;
    expect(failed).toBeGreaterThan(20);
    expect(failed).toBeLessThan(80);
  });

  it('throttleRate answers 429 with the throttled body', async () => {
    await control(sb.addr, 'PUT', '/faults', { throttleRate: 1 });
    const r = await api(sb.addr, sb.token, 'GET', '/contact_lists');
    expect(r.status).toBe(429);
    expect(r.body).toEqual(THROTTLED);
    expect((await control(sb.addr, 'GET', '/stats')).body.injectedThrottles).toBeGreaterThanOrEqual(1);
  });

  it('resetRate destroys the connection without an answer', async () => {
    await control(sb.addr, 'PUT', '/faults', { resetRate: 1 });
    await expect(fetch(`${sb.addr.apiBaseUrl}/contact_lists`, { headers: { authorization: `Bearer ${sb.token}` } })).rejects.toThrow();
    expect((await control(sb.addr, 'GET', '/stats')).body.injectedResets).toBeGreaterThanOrEqual(1);
  });

  it('latencyMs delays every API request', async () => {
    await control(sb.addr, 'PUT', '/faults', { latencyMs: 300 });
    const started = Date.now();
    expect((await api(sb.addr, sb.token, 'GET', '/contact_lists')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('importMsPerContact slows activities; PUT replaces the whole fault set', async () => {
    await control(sb.addr, 'PUT', '/faults', { importMsPerContact: 20 });
    const posted = Date.now();
    const res = await importContacts(sb.addr, sb.token, Array.from({ length: 100 }, (_, i) => ({ email: `slow${i}@example.com` })));
    const poll = await api(sb.addr, sb.token, 'GET', `/activities/${res.body.activity_id}`);
    expect(['initialized', 'processing']).toContain(poll.body.state);
    await waitForActivity(sb.addr, sb.token, res.body.activity_id);
    expect(Date.now() - posted).toBeGreaterThanOrEqual(2000);
    const after = await control(sb.addr, 'PUT', '/faults', { latencyMs: 1 });
    expect(after.body).toEqual({ errorRate: 0, throttleRate: 0, resetRate: 0, latencyMs: 1, importMsPerContact: 0 });
  });

  it('rejects invalid fault settings', async () => {
    for (const body of [{ errorRate: 2 }, { throttleRate: -0.1 }, { latencyMs: 'slow' }, { errorrate: 1 }]) {
      const res = await control(sb.addr, 'PUT', '/faults', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
  });

  it('does not inject faults into the OAuth and control endpoints', async () => {
    await control(sb.addr, 'PUT', '/faults', { errorRate: 1, resetRate: 1 });
    expect((await control(sb.addr, 'GET', '/stats')).status).toBe(200);
    expect((await authorize(sb.addr)).access_token).toBeDefined();
  });
});

describe('sandbox control API', () => {
  const sb = useAuthorizedSandbox();

  it('reset empties the account, keeps the default list, zeroes counters and keeps tokens working', async () => {
    const list = (await control(sb.addr, 'POST', '/lists', { name: 'Temporary' })).body.listId;
    await control(sb.addr, 'POST', '/custom-fields', { label: 'Tier' });
    await waitForActivity(sb.addr, sb.token, (await importContacts(sb.addr, sb.token, [{ email: 'x@example.com' }], [DEFAULT_LIST, list])).body.activity_id);
    await control(sb.addr, 'PUT', '/faults', { latencyMs: 5 });
    expect((await control(sb.addr, 'GET', '/stats')).body.requests).toBeGreaterThan(0);

    const res = await control(sb.addr, 'POST', '/reset');
    expect(res.status).toBe(200);
    const stats = (await control(sb.addr, 'GET', '/stats')).body;
    expect(stats).toMatchObject({ requests: 0, byRoute: {}, throttled: 0, maxRequestsInOneSecond: 0, importRequests: 0, importedContacts: 0, contacts: 0, lists: 1, customFields: 0 });
    expect((await control(sb.addr, 'GET', '/faults')).body.latencyMs).toBe(0);
    const lists = await api(sb.addr, sb.token, 'GET', '/contact_lists?include_membership_count=all');
    expect(lists.status).toBe(200);
    expect(lists.body.lists).toEqual([expect.objectContaining({ list_id: DEFAULT_LIST, name: 'Sandbox list', membership_count: 0 })]);
    expect((await api(sb.addr, sb.token, 'GET', '/contact_custom_fields')).body.custom_fields).toEqual([]);
  });

  it('streams list members as NDJSON', async () => {
    await control(sb.addr, 'POST', '/reset');
    await control(sb.addr, 'POST', '/custom-fields', { label: 'Favourite Colour' });
    const items = Array.from({ length: 5000 }, (_, i) => ({ email: `n${i}@example.com`, first_name: `F${i}`, last_name: `L${i}`, 'cf:Favourite_Colour': 'teal' }));
    await waitForActivity(sb.addr, sb.token, (await importContacts(sb.addr, sb.token, items)).body.activity_id);
    const res = await http(`${sb.addr.baseUrl}/__sandbox/lists/${DEFAULT_LIST}/members`);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = res.text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(5000);
    expect(lines[42]).toEqual({ contactId: expect.stringMatching(/^[0-9a-f-]{36}$/), email: 'n42@example.com', firstName: 'F42', lastName: 'L42', customFields: { Favourite_Colour: 'teal' }, permissionToSend: 'implicit' });
    expect((await http(`${sb.addr.baseUrl}/__sandbox/lists/11111111-1111-4111-8111-111111111111/members`)).status).toBe(404);
  });

  it('unsubscribes contacts, creating those it does not know', async () => {
    await control(sb.addr, 'POST', '/reset');
    await waitForActivity(sb.addr, sb.token, (await importContacts(sb.addr, sb.token, [{ email: 'known@example.com' }])).body.activity_id);
    const res = await control(sb.addr, 'POST', '/contacts/unsubscribe', { emails: ['Known@example.com', 'new@example.com'] });
    expect(res.body).toEqual({ unsubscribed: 2, created: 1 });
    const list = await members(sb.addr, DEFAULT_LIST);
    expect(list).toEqual([expect.objectContaining({ email: 'known@example.com', permissionToSend: 'unsubscribed' })]);
    expect((await control(sb.addr, 'GET', '/contacts?email=new@example.com')).body.permissionToSend).toBe('unsubscribed');
    expect((await control(sb.addr, 'POST', '/contacts/unsubscribe', { emails: [] })).status).toBe(400);
    expect((await control(sb.addr, 'POST', '/contacts/unsubscribe', { emails: ['nope'] })).status).toBe(400);
  });

  it('lets contacts leave one list by themselves; a later import naming the list puts them back', async () => {
    await control(sb.addr, 'POST', '/reset');
    const news = (await control(sb.addr, 'POST', '/lists', { name: 'News' })).body.listId;
    const people = ['a@example.com', 'b@example.com', 'c@example.com'].map((email) => ({ email }));
    await waitForActivity(sb.addr, sb.token, (await importContacts(sb.addr, sb.token, people, [DEFAULT_LIST, news])).body.activity_id);

    const res = await control(sb.addr, 'POST', `/lists/${news}/members/leave`, { emails: ['A@Example.com', 'b@example.com', 'stranger@example.com'] });
    expect(res.body).toEqual({ left: 2 });
    expect((await members(sb.addr, news)).map((m) => m.email)).toEqual(['c@example.com']);
    // Off this one list only, still subscribed to the account.
    expect((await members(sb.addr, DEFAULT_LIST)).map((m) => m.email)).toEqual(['a@example.com', 'b@example.com', 'c@example.com']);
    expect((await control(sb.addr, 'GET', '/contacts?email=a@example.com')).body).toMatchObject({ permissionToSend: 'implicit', listIds: [DEFAULT_LIST] });
    expect((await control(sb.addr, 'POST', `/lists/${news}/members/leave`, { emails: ['a@example.com'] })).body).toEqual({ left: 0 });

    // What Constant Contact does too: an import that names the list re-adds whoever left it.
    await waitForActivity(sb.addr, sb.token, (await importContacts(sb.addr, sb.token, [{ email: 'a@example.com' }], [news])).body.activity_id);
    expect((await members(sb.addr, news)).map((m) => m.email).sort()).toEqual(['a@example.com', 'c@example.com']);
  });

  it('answers 404 to leaving an unknown list and 400 to a bad leave body', async () => {
    const unknown = await control(sb.addr, 'POST', '/lists/11111111-1111-4111-8111-111111111111/members/leave', { emails: ['a@example.com'] });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
    for (const body of [{}, { emails: [] }, { emails: 'a@example.com' }, { emails: [3] }, { emails: ['a@example.com'], extra: true }]) {
      const res = await control(sb.addr, 'POST', `/lists/${DEFAULT_LIST}/members/leave`, body);
      expect([body, res.status, res.body.error.code]).toEqual([body, 400, 'validation_failed']);
    }
  });

  it('counts requests by route, imports and contacts in its stats', async () => {
    await control(sb.addr, 'POST', '/reset');
    await api(sb.addr, sb.token, 'GET', `/contact_lists/${DEFAULT_LIST}`);
    await api(sb.addr, sb.token, 'GET', '/contact_lists/11111111-1111-4111-8111-111111111111');
    const imp = await importContacts(sb.addr, sb.token, [{ email: 'a@example.com' }, { email: 'b@example.com' }, { email: 'bad' }]);
    await waitForActivity(sb.addr, sb.token, imp.body.activity_id);
    const stats = (await control(sb.addr, 'GET', '/stats')).body;
    expect(stats.byRoute).toMatchObject({
      'GET /v3/contact_lists/:id': 2,
      'POST /v3/activities/contacts_json_import': 1,
      'GET /v3/activities/:id': expect.any(Number),
    });
    expect(stats).toMatchObject({ importRequests: 1, importedContacts: 3, truncatedContacts: 0, contacts: 2, queuedActivities: 0 });
    expect(stats.requests).toBe(Object.entries(stats.byRoute).filter(([k]) => k.includes(' /v3/')).reduce((n, [, v]) => n + (v as number), 0));
  });

  it('answers unknown control endpoints 404 and invalid bodies 400', async () => {
    expect((await control(sb.addr, 'GET', '/nothing')).status).toBe(404);
    expect((await control(sb.addr, 'POST', '/custom-fields', { label: 'X', type: 'number' })).status).toBe(400);
    const bad = await http(`${sb.addr.baseUrl}/__sandbox/lists`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect(bad.status).toBe(400);
  });
});
