import { importItemEndOffsets, itemsFittingIn } from '../../sandbox/import';
import { api, authorize, control, DEFAULT_LIST, FakeClock, importContacts, members, start, THROTTLED, waitForActivity, type Running, type Tokens, useAuthorizedSandbox } from './helpers';

const IMPORT = '/activities/contacts_json_import';

describe('sandbox JSON import: request validation', () => {
  const sb = useAuthorizedSandbox();

  const expectArrayError = (body: unknown) => {
    expect(Array.isArray(body)).toBe(true);
    expect((body as unknown[])[0]).toEqual({ error_key: expect.any(String), error_message: expect.any(String) });
  };

  it('answers 201 with the activity, as the reference shows it', async () => {
    const res = await importContacts(sb.addr, sb.token, [{ email: 'first@example.com', first_name: 'Ada' }]);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      activity_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      state: 'initialized',
      created_at: expect.any(String),
      percent_done: 0,
      activity_errors: [],
      status: { items_total_count: 1 },
    });
    expect(res.body._links.self.href).toBe(`/v3/activities/${res.body.activity_id}`);
  });

  it('answers 415 to a wrong content type', async () => {
    const res = await api(sb.addr, sb.token, 'POST', IMPORT, 'import_data=1', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
    expectArrayError(res.body);
  });

  it('answers 400 (array body) to malformed JSON and to bad shapes', async () => {
    const bad: unknown[] = [
      '{"import_data": [',
      [],
      { list_ids: [DEFAULT_LIST] },
      { import_data: [], list_ids: [DEFAULT_LIST] },
      { import_data: [{ email: 'a@example.com' }] },
      { import_data: [{ email: 'a@example.com' }], list_ids: [] },
      { import_data: [{ email: 'a@example.com' }], list_ids: ['11111111-1111-4111-8111-111111111111'] },
      { import_data: [{ email: 'a@example.com' }], list_ids: [DEFAULT_LIST], extra: true },
      { import_data: ['a@example.com'], list_ids: [DEFAULT_LIST] },
      { import_data: [{ email: 'a@example.com', firstName: 'Ada' }], list_ids: [DEFAULT_LIST] },
      { import_data: [{ email: 'a@example.com', first_name: 42 }], list_ids: [DEFAULT_LIST] },
      { import_data: [{ email: 'a@example.com', 'cf:tier': 3 }], list_ids: [DEFAULT_LIST] },
    ];
    for (const body of bad) {
      const res = await api(sb.addr, sb.token, 'POST', IMPORT, typeof body === 'string' ? body : JSON.stringify(body));
      expect([res.status, body]).toEqual([400, body]);
      expectArrayError(res.body);
    }
  });

  it('accepts 40,000 contacts and refuses 40,001 with 400', async () => {
    const items = (n: number) => Array.from({ length: n }, (_, i) => ({ email: `c${i}@example.com` }));
    const over = await importContacts(sb.addr, sb.token, items(40_001));
    expect(over.status).toBe(400);
    expectArrayError(over.body);
    const max = await importContacts(sb.addr, sb.token, items(40_000));
    expect(max.status).toBe(201);
    const done = await waitForActivity(sb.addr, sb.token, max.body.activity_id);
    expect(done.status).toMatchObject({ items_total_count: 40_000, items_completed_count: 40_000, person_count: 40_000, error_count: 0 });
  });

  it('accepts up to 50 list ids and refuses 51', async () => {
    const ids: string[] = [DEFAULT_LIST];
    for (let i = 1; i < 51; i++) ids.push((await control(sb.addr, 'POST', '/lists', { name: `List ${i}` })).body.listId);
    const over = await importContacts(sb.addr, sb.token, [{ email: 'many@example.com' }], ids);
    expect(over.status).toBe(400);
    const ok = await importContacts(sb.addr, sb.token, [{ email: 'many@example.com' }], ids.slice(0, 50));
    expect(ok.status).toBe(201);
    await waitForActivity(sb.addr, sb.token, ok.body.activity_id);
    const lookup = await control(sb.addr, 'GET', '/contacts?email=many@example.com');
    expect(lookup.body.listIds).toHaveLength(50);
  });
});

describe('sandbox JSON import: contacts, counts and lists', () => {
  let listB: string;
  const sb = useAuthorizedSandbox();
  beforeEach(async () => {
    await control(sb.addr, 'POST', '/reset');
    listB = (await control(sb.addr, 'POST', '/lists', { name: 'List B' })).body.listId;
    await control(sb.addr, 'POST', '/custom-fields', { label: 'Loyalty Tier', type: 'string' });
  });

  async function run(items: unknown[], listIds = [DEFAULT_LIST]) {
    const res = await importContacts(sb.addr, sb.token, items, listIds);
    expect(res.status).toBe(201);
    return waitForActivity(sb.addr, sb.token, res.body.activity_id);
  }

  it('creates new contacts with implicit permission and adds them to every list named', async () => {
    const done = await run([{ email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace', 'cf:Loyalty_Tier': 'gold' }], [DEFAULT_LIST, listB]);
    expect(done.state).toBe('completed');
    expect(done.percent_done).toBe(100);
    expect(done.status).toEqual({ items_total_count: 1, items_completed_count: 1, person_count: 1, error_count: 0, correctable_count: 0, cannot_add_to_list_count: 0 });
    for (const list of [DEFAULT_LIST, listB]) {
      expect(await members(sb.addr, list)).toEqual([
        { contactId: expect.any(String), email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', customFields: { Loyalty_Tier: 'gold' }, permissionToSend: 'implicit' },
      ]);
    }
  });

  it('merges duplicates inside one request case-insensitively (later values win)', async () => {
    const done = await run([
      { email: 'Dup@Example.com', first_name: 'First' },
      { email: 'dup@example.com', last_name: 'Last' },
      { email: 'DUP@EXAMPLE.COM', first_name: 'Final' },
      { email: 'other@example.com' },
    ]);
    expect(done.status).toMatchObject({ items_total_count: 4, person_count: 2, error_count: 0, correctable_count: 0 });
    const list = await members(sb.addr, DEFAULT_LIST);
    expect(list).toHaveLength(2);
    expect(list.find((m) => m.email.toLowerCase() === 'dup@example.com')).toMatchObject({ firstName: 'Final', lastName: 'Last' });
  });

  it('counts invalid email formats and rows without email as correctable, and imports the rest', async () => {
    const done = await run([
      { email: 'not-an-email' },
      { email: 'two@@example.com' },
      { email: 'nodomain@' },
      { email: 'spaces in@example.com' },
      { first_name: 'No email' },
      { email: 'ok@example.com', birthday_month: '13' },
      { email: 'ok2@example.com', anniversary: '2024-02-30' },
      { email: 'good@example.com', birthday_month: 5, birthday_day: '17', anniversary: '2020-06-01' },
    ]);
    expect(done.status).toMatchObject({ items_total_count: 8, person_count: 1, correctable_count: 7, error_count: 0 });
    expect((await members(sb.addr, DEFAULT_LIST)).map((m) => m.email)).toEqual(['good@example.com']);
  });

  it('enforces field lengths: email 50, names 50, custom field values 255 (too long: error_count)', async () => {
    const email50 = `${'e'.repeat(38)}@example.com`;
    expect(email50).toHaveLength(50);
    const done = await run([
      { email: email50, first_name: 'f'.repeat(50), last_name: 'l'.repeat(50), 'cf:Loyalty_Tier': 'v'.repeat(255) },
      { email: `x${email50}` },
      { email: 'long1@example.com', first_name: 'f'.repeat(51) },
      { email: 'long2@example.com', last_name: 'l'.repeat(51) },
      { email: 'long3@example.com', 'cf:Loyalty_Tier': 'v'.repeat(256) },
      { email: 'long4@example.com', job_title: 'j'.repeat(51) },
    ]);
    expect(done.status).toMatchObject({ items_total_count: 6, person_count: 1, error_count: 5, correctable_count: 0 });
    const [m] = await members(sb.addr, DEFAULT_LIST);
    expect(m.email).toBe(email50);
    expect(m.customFields.Loyalty_Tier).toHaveLength(255);
  });

  it('allows at most 25 custom fields per contact and drops unknown custom fields silently', async () => {
    for (let i = 0; i < 26; i++) await control(sb.addr, 'POST', '/custom-fields', { label: `F ${i}` });
    const fields = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`cf:F_${i}`, `v${i}`]));
    const done = await run([
      { email: 'twentyfive@example.com', ...fields(25) },
      { email: 'twentysix@example.com', ...fields(26) },
      { email: 'unknown@example.com', 'cf:No_Such_Field': 'x', 'cf:Loyalty_Tier': 'silver' },
    ]);
    expect(done.status).toMatchObject({ items_total_count: 3, person_count: 2, error_count: 1 });
    const list = await members(sb.addr, DEFAULT_LIST);
    expect(Object.keys(list.find((m) => m.email === 'twentyfive@example.com')!.customFields)).toHaveLength(25);
    expect(list.find((m) => m.email === 'unknown@example.com')!.customFields).toEqual({ Loyalty_Tier: 'silver' });
  });

  it('does not add unsubscribed contacts to lists and counts them in cannot_add_to_list_count', async () => {
    const unsub = await control(sb.addr, 'POST', '/contacts/unsubscribe', { emails: ['gone@example.com'] });
    expect(unsub.body).toEqual({ unsubscribed: 1, created: 1 });
    const done = await run([{ email: 'GONE@example.com', first_name: 'Gone' }, { email: 'here@example.com' }]);
    expect(done.status).toMatchObject({ items_total_count: 2, person_count: 2, cannot_add_to_list_count: 1 });
    expect((await members(sb.addr, DEFAULT_LIST)).map((m) => m.email)).toEqual(['here@example.com']);
    // Import never resubscribes.
    const contact = await control(sb.addr, 'GET', '/contacts?email=gone@example.com');
    expect(contact.body).toMatchObject({ permissionToSend: 'unsubscribed', firstName: 'Gone', listIds: [] });
  });

  it('updates existing contacts, keeping their permission and the fields not sent', async () => {
    await run([{ email: 'keep@example.com', first_name: 'Old', last_name: 'Name', 'cf:Loyalty_Tier': 'bronze' }], [listB]);
    const done = await run([{ email: 'Keep@Example.com', first_name: 'New' }]);
    expect(done.status).toMatchObject({ person_count: 1 });
    const contact = await control(sb.addr, 'GET', '/contacts?email=keep@example.com');
    expect(contact.body).toMatchObject({ email: 'keep@example.com', firstName: 'New', lastName: 'Name', customFields: { Loyalty_Tier: 'bronze' }, permissionToSend: 'implicit' });
    expect(contact.body.listIds.sort()).toEqual([DEFAULT_LIST, listB].sort());
    const stats = await control(sb.addr, 'GET', '/stats');
    expect(stats.body.contacts).toBe(1);
  });

  it('keeps only the items that fit in the first 4 MB of a larger body, and counts the rest', async () => {
    const pad = 'p'.repeat(230);
    const items = Array.from({ length: 20_000 }, (_, i) => ({ email: `big${i}@example.com`, 'cf:Padding': pad }));
    const body = JSON.stringify({ list_ids: [DEFAULT_LIST], import_data: items });
    expect(Buffer.byteLength(body)).toBeGreaterThan(4 * 1024 * 1024);
    // The items whose last byte lies within the first 4 MB.
    let offset = Buffer.byteLength(`{"list_ids":["${DEFAULT_LIST}"],"import_data":[`);
    let expected = 0;
    for (const item of items) {
      offset += Buffer.byteLength(JSON.stringify(item));
      if (offset > 4 * 1024 * 1024) break;
      expected++;
      offset += 1; // the comma
    }
    expect(expected).toBeGreaterThan(10_000);
    expect(expected).toBeLessThan(20_000);
    const res = await api(sb.addr, sb.token, 'POST', IMPORT, body);
    expect(res.status).toBe(201);
    const done = await waitForActivity(sb.addr, sb.token, res.body.activity_id);
    expect(done.status).toMatchObject({ items_total_count: expected, person_count: expected });
    const list = await members(sb.addr, DEFAULT_LIST);
    expect(list).toHaveLength(expected);
    expect(list[expected - 1].email).toBe(`big${expected - 1}@example.com`);
    const stats = await control(sb.addr, 'GET', '/stats');
    expect(stats.body).toMatchObject({ truncatedRequests: 1, truncatedContacts: 20_000 - expected, importRequests: 1, importedContacts: expected });
  });

  it('does not truncate a body of exactly 4 MB', async () => {
    const items = Array.from({ length: 14_000 }, (_, i) => ({ email: `exact${i}@example.com`, 'cf:Padding': 'p'.repeat(230) }));
    const size = () => Buffer.byteLength(JSON.stringify({ import_data: items, list_ids: [DEFAULT_LIST] }));
    const last = items[items.length - 1];
    last['cf:Padding'] += 'p'.repeat(4 * 1024 * 1024 - size());
    expect(size()).toBe(4 * 1024 * 1024);
    const res = await importContacts(sb.addr, sb.token, items);
    expect(res.status).toBe(201);
    const done = await waitForActivity(sb.addr, sb.token, res.body.activity_id);
    expect(done.status.items_total_count).toBe(14_000);
    expect((await control(sb.addr, 'GET', '/stats')).body).toMatchObject({ truncatedRequests: 0, truncatedContacts: 0 });
    // Make the last item end one byte after 4 MB: it no longer fits and is dropped.
    const tail = Buffer.byteLength(`],"list_ids":["${DEFAULT_LIST}"]}`);
    last['cf:Padding'] += 'p'.repeat(tail + 1);
    const again = items.map((item) => ({ ...item, email: item.email.replace('exact', 'again') }));
    expect(Buffer.byteLength(JSON.stringify({ import_data: again, list_ids: [DEFAULT_LIST] }))).toBe(4 * 1024 * 1024 + tail + 1);
    const over = await importContacts(sb.addr, sb.token, again);
    expect(over.status).toBe(201);
    expect(over.body.status.items_total_count).toBe(13_999);
    expect((await control(sb.addr, 'GET', '/stats')).body).toMatchObject({ truncatedRequests: 1, truncatedContacts: 1 });
  });
});

describe('sandbox JSON import: activity progress and queue', () => {
  let s: Running;
  let t: Tokens;
  let clock: FakeClock;
  beforeEach(async () => {
    clock = new FakeClock();
    s = await start({ now: clock.now, importMsPerContact: 1, importMinMs: 100 });
    t = await authorize(s.addr);
  });
  afterEach(() => s.close());

  const items = (n: number, prefix = 'p') => Array.from({ length: n }, (_, i) => ({ email: `${prefix}${i}@example.com` }));
  const get = (id: string) => api(s.addr, t.access_token, 'GET', `/activities/${id}`).then((r) => r.body);

  it('moves initialized → processing → completed over time; contacts appear at completion', async () => {
    const res = await importContacts(s.addr, t.access_token, items(200));
    const id = res.body.activity_id;
    expect(res.body.state).toBe('initialized');
    clock.advance(10);
    expect((await get(id)).state).toBe('initialized');
    clock.advance(90);
    const mid = await get(id);
    expect(mid).toMatchObject({ state: 'processing', percent_done: 50 });
    expect(mid.status.items_completed_count).toBe(100);
    expect(await members(s.addr, '00000000-0000-4000-8000-000000000001')).toHaveLength(0);
    clock.advance(100);
    const done = await get(id);
    expect(done).toMatchObject({ state: 'completed', percent_done: 100, status: { items_total_count: 200, items_completed_count: 200, person_count: 200 } });
    expect(done.completed_at).toBe(new Date(clock.t).toISOString());
    expect(await members(s.addr, '00000000-0000-4000-8000-000000000001')).toHaveLength(200);
  });

  it('runs activities one after another: the second waits initialized while the first works', async () => {
    const a = (await importContacts(s.addr, t.access_token, items(200, 'a'))).body.activity_id;
    const b = (await importContacts(s.addr, t.access_token, items(200, 'b'))).body.activity_id;
    clock.advance(150);
    expect((await get(a)).state).toBe('processing');
    expect((await get(b)).state).toBe('initialized');
    clock.advance(100);
    expect((await get(a)).state).toBe('completed');
    expect((await get(b)).state).toBe('processing');
    clock.advance(150);
    expect((await get(b)).state).toBe('completed');
  });

  it('lists activities of the last 10 days, newest first, filtered by state, with cursor paging', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await importContacts(s.addr, t.access_token, items(100, `l${i}`))).body.activity_id);
    clock.advance(100);
    const completed = await api(s.addr, t.access_token, 'GET', '/activities?state=completed');
    expect(completed.body.activities.map((a: { activity_id: string }) => a.activity_id)).toEqual([ids[0]]);
    // A list item carries what settles an import: its state, times and status counts.
    const { activity_errors: _errors, ...one } = await get(ids[0]);
    expect(completed.body.activities[0]).toEqual(one);
    expect(one).toMatchObject({
      state: 'completed',
      percent_done: 100,
      created_at: expect.any(String),
      completed_at: expect.any(String),
      status: { items_total_count: 100, person_count: 100, error_count: 0, correctable_count: 0, cannot_add_to_list_count: 0 },
    });
    const page1 = await api(s.addr, t.access_token, 'GET', '/activities?limit=2');
    expect(page1.body.activities.map((a: { activity_id: string }) => a.activity_id)).toEqual([ids[2], ids[1]]);
    expect(page1.body._links.next.href).toMatch(/^\/v3\/activities\?/);
    const page2 = await api(s.addr, t.access_token, 'GET', page1.body._links.next.href);
    expect(page2.body.activities.map((a: { activity_id: string }) => a.activity_id)).toEqual([ids[0]]);
    expect(page2.body._links).toBeUndefined();
    clock.advance(11 * 86_400_000);
    t = await authorize(s.addr); // the access token expired meanwhile
    expect((await api(s.addr, t.access_token, 'GET', '/activities')).body.activities).toEqual([]);
    expect((await api(s.addr, t.access_token, 'GET', '/activities?state=done')).status).toBe(400);
    expect((await api(s.addr, t.access_token, 'GET', '/activities/11111111-1111-4111-8111-111111111111')).status).toBe(404);
  });

  it('answers 429 to every bulk POST while 1,000 activities are queued', async () => {
    await control(s.addr, 'PUT', '/limits', { maxQueuedActivities: 3 });
    for (let i = 0; i < 3; i++) expect((await importContacts(s.addr, t.access_token, items(1000, `q${i}`))).status).toBe(201);
    const full = await importContacts(s.addr, t.access_token, items(1, 'x'));
    expect(full.status).toBe(429);
    expect(full.body.error_key).toBe('throttled');
    const remove = await api(s.addr, t.access_token, 'POST', '/activities/remove_list_memberships', { source: { all_active_contacts: true }, list_ids: ['00000000-0000-4000-8000-000000000001'] });
    expect(remove.status).toBe(429);
    // Reading is still fine; once the queue drains, POSTs pass again.
    expect((await api(s.addr, t.access_token, 'GET', '/activities')).status).toBe(200);
    clock.advance(1000);
    expect((await importContacts(s.addr, t.access_token, items(1, 'x'))).status).toBe(201);
    const stats = await control(s.addr, 'GET', '/stats');
    expect(stats.body.throttledQueue).toBe(2);
  });

  it('defaults to 1,000 queued activities', async () => {
    await control(s.addr, 'PUT', '/faults', { importMsPerContact: 1000 });
    for (let i = 0; i < 1000; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => importContacts(s.addr, t.access_token, [{ email: `q${i + j}@example.com` }])));
      expect(batch.every((res) => res.status === 201)).toBe(true);
    }
    expect((await importContacts(s.addr, t.access_token, [{ email: 'one-more@example.com' }])).body).toEqual({ ...THROTTLED, error_message: expect.any(String) });
    expect((await control(s.addr, 'GET', '/stats')).body.queuedActivities).toBe(1000);
  });

  it('completes at the first poll when importMsPerContact is 0', async () => {
    await control(s.addr, 'PUT', '/faults', { importMsPerContact: 0 });
    const res = await importContacts(s.addr, t.access_token, items(500, 'z'));
    expect(res.body.state).toBe('initialized');
    expect((await get(res.body.activity_id)).state).toBe('completed');
  });
});

describe('import truncation scanner', () => {
  it('finds the end of every import_data item, whatever the spacing, nesting and strings', () => {
    const body = Buffer.from(
      '{ "list_ids" : ["x"], "note": "import_data", "import_data" : [ {"email":"a]}@x.io", "first_name":"q\\"},["}\n, {"email":"b@x.io"} ,{"x":[1,{"y":2}]} ] , "z": [1] }',
    );
    const ends = importItemEndOffsets(body);
    expect(ends).toHaveLength(3);
    const text = body.toString();
    expect(text.slice(0, ends[0]).endsWith('"q\\"},["}')).toBe(true);
    expect(text.slice(0, ends[1]).endsWith('{"email":"b@x.io"}')).toBe(true);
    expect(text.slice(0, ends[2]).endsWith('{"x":[1,{"y":2}]}')).toBe(true);
    expect(itemsFittingIn(body, ends[1])).toBe(2);
    expect(itemsFittingIn(body, ends[1] - 1)).toBe(1);
    expect(importItemEndOffsets(Buffer.from('{"import_data":[]}'))).toEqual([]);
  });
});
