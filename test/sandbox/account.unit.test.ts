import { api, authorize, control, DEFAULT_LIST, importContacts, members, start, waitForActivity, type Running, type Tokens, useAuthorizedSandbox } from './helpers';

const REMOVE = '/activities/remove_list_memberships';

describe('sandbox lists and custom fields', () => {
  const sb = useAuthorizedSandbox();
  beforeEach(() => control(sb.addr, 'POST', '/reset'));

  it('has the default list "Sandbox list" and answers a list with its membership count', async () => {
    const done = await waitForActivity(sb.addr, sb.token, (await importContacts(sb.addr, sb.token, [{ email: 'a@example.com' }, { email: 'b@example.com' }])).body.activity_id);
    expect(done.state).toBe('completed');
    const res = await api(sb.addr, sb.token, 'GET', `/contact_lists/${DEFAULT_LIST}?include_membership_count=all`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ list_id: DEFAULT_LIST, name: 'Sandbox list', membership_count: 2, created_at: expect.any(String), updated_at: expect.any(String) });
    const without = await api(sb.addr, sb.token, 'GET', `/contact_lists/${DEFAULT_LIST}`);
    expect(without.body.membership_count).toBeUndefined();
  });

  it('answers 404 with an array body for an unknown list', async () => {
    const res = await api(sb.addr, sb.token, 'GET', '/contact_lists/11111111-1111-4111-8111-111111111111?include_membership_count=all');
    expect(res.status).toBe(404);
    expect(res.body).toEqual([{ error_key: expect.any(String), error_message: expect.any(String) }]);
  });

  it('pages lists with limit, include_count and relative _links.next hrefs', async () => {
    const created: string[] = [];
    for (let i = 0; i < 4; i++) created.push((await control(sb.addr, 'POST', '/lists', { name: `Page list ${i}` })).body.listId);
    const first = await api(sb.addr, sb.token, 'GET', '/contact_lists?limit=2&include_count=true&include_membership_count=all');
    expect(first.status).toBe(200);
    expect(first.body.lists_count).toBe(5);
    expect(first.body.lists).toHaveLength(2);
    expect(first.body.lists[0]).toMatchObject({ list_id: DEFAULT_LIST, membership_count: 0 });
    const seen = first.body.lists.map((l: { list_id: string }) => l.list_id);
    let next: string | undefined = first.body._links?.next?.href;
    while (next) {
      expect(next).toMatch(/^\/v3\/contact_lists\?/);
      const page = await api(sb.addr, sb.token, 'GET', next);
      expect(page.status).toBe(200);
      seen.push(...page.body.lists.map((l: { list_id: string }) => l.list_id));
      next = page.body._links?.next?.href;
    }
    expect(seen).toEqual([DEFAULT_LIST, ...created]);
    expect((await api(sb.addr, sb.token, 'GET', '/contact_lists?limit=0')).status).toBe(400);
  });

  it('creates lists through the control API idempotently by name', async () => {
    const a = await control(sb.addr, 'POST', '/lists', { name: 'Newsletter' });
    expect(a.status).toBe(201);
    expect(a.body.listId).toMatch(/^[0-9a-f-]{36}$/);
    const b = await control(sb.addr, 'POST', '/lists', { name: 'newsletter' });
    expect(b.status).toBe(200);
    expect(b.body.listId).toBe(a.body.listId);
    expect((await control(sb.addr, 'POST', '/lists', {})).status).toBe(400);
  });

  it('creates custom fields (name = label with blanks as underscores) and pages them up to 100', async () => {
    const f = await control(sb.addr, 'POST', '/custom-fields', { label: 'Loyalty Tier', type: 'string' });
    expect(f.status).toBe(201);
    expect(f.body).toMatchObject({ name: 'Loyalty_Tier', label: 'Loyalty Tier', type: 'string' });
    for (let i = 0; i < 99; i++) expect((await control(sb.addr, 'POST', '/custom-fields', { label: `Field ${i}`, type: 'date' })).status).toBe(201);
    expect((await control(sb.addr, 'POST', '/custom-fields', { label: 'One too many' })).status).toBe(409);
    const page = await api(sb.addr, sb.token, 'GET', '/contact_custom_fields?limit=100');
    expect(page.body.custom_fields).toHaveLength(100);
    expect(page.body.custom_fields[0]).toEqual({ custom_field_id: f.body.customFieldId, label: 'Loyalty Tier', name: 'Loyalty_Tier', type: 'string', created_at: expect.any(String), updated_at: expect.any(String) });
    expect(page.body._links).toBeUndefined();
    expect((await api(sb.addr, sb.token, 'GET', '/contact_custom_fields?limit=101')).status).toBe(400);
    const small = await api(sb.addr, sb.token, 'GET', '/contact_custom_fields?limit=30');
    const names = small.body.custom_fields.map((x: { name: string }) => x.name);
    let next = small.body._links?.next?.href;
    while (next) {
      expect(next).toMatch(/^\/v3\/contact_custom_fields\?/);
      const p = await api(sb.addr, sb.token, 'GET', next);
      names.push(...p.body.custom_fields.map((x: { name: string }) => x.name));
      next = p.body._links?.next?.href;
    }
    expect(names).toHaveLength(100);
    expect(new Set(names).size).toBe(100);
  });
});

describe('sandbox remove list memberships', () => {
  let other: string;
  const sb = useAuthorizedSandbox();
  beforeEach(async () => {
    await control(sb.addr, 'POST', '/reset');
    other = (await control(sb.addr, 'POST', '/lists', { name: 'Other' })).body.listId;
    const items = Array.from({ length: 10 }, (_, i) => ({ email: `m${i}@example.com` }));
    await waitForActivity(sb.addr, sb.token, (await importContacts(sb.addr, sb.token, items, [DEFAULT_LIST, other])).body.activity_id);
  });

  it('removes the given contact ids from the target lists only; contacts are not deleted', async () => {
    const list = await members(sb.addr, DEFAULT_LIST);
    const ids = list.slice(0, 3).map((m) => m.contactId);
    const res = await api(sb.addr, sb.token, 'POST', REMOVE, { source: { contact_ids: ids }, list_ids: [DEFAULT_LIST] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ activity_id: expect.any(String), state: 'initialized', _links: { self: { href: `/v3/activities/${res.body.activity_id}` } } });
    const done = await waitForActivity(sb.addr, sb.token, res.body.activity_id);
    expect(done.status).toMatchObject({ person_count: 3, memberships_removed_count: 3 });
    expect(await members(sb.addr, DEFAULT_LIST)).toHaveLength(7);
    expect(await members(sb.addr, other)).toHaveLength(10);
    expect((await control(sb.addr, 'GET', '/stats')).body).toMatchObject({ contacts: 10, removeRequests: 1, removedMemberships: 3 });
    const contact = await control(sb.addr, 'GET', `/contacts?email=${encodeURIComponent(list[0].email)}`);
    expect(contact.body.listIds).toEqual([other]);
  });

  it('removes all members of source lists from target lists', async () => {
    const done = await waitForActivity(sb.addr, sb.token, (await api(sb.addr, sb.token, 'POST', REMOVE, { source: { list_ids: [other] }, list_ids: [DEFAULT_LIST, other] })).body.activity_id);
    expect(done.status.memberships_removed_count).toBe(20);
    expect(await members(sb.addr, DEFAULT_LIST)).toHaveLength(0);
    expect(await members(sb.addr, other)).toHaveLength(0);
  });

  it('removes all active contacts but leaves unsubscribed ones', async () => {
    await control(sb.addr, 'POST', '/contacts/unsubscribe', { emails: ['m0@example.com'] });
    const done = await waitForActivity(sb.addr, sb.token, (await api(sb.addr, sb.token, 'POST', REMOVE, { source: { all_active_contacts: true }, list_ids: [other] })).body.activity_id);
    expect(done.status.memberships_removed_count).toBe(9);
    expect((await members(sb.addr, other)).map((m) => m.email)).toEqual(['m0@example.com']);
  });

  it('validates the source and the targets', async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const bad: unknown[] = [
      { source: {}, list_ids: [DEFAULT_LIST] },
      { source: { contact_ids: ids(1), list_ids: [other] }, list_ids: [DEFAULT_LIST] },
      { source: { contact_ids: ids(501) }, list_ids: [DEFAULT_LIST] },
      { source: { contact_ids: [] }, list_ids: [DEFAULT_LIST] },
      { source: { all_active_contacts: false }, list_ids: [DEFAULT_LIST] },
      { source: { segment_id: 1 }, list_ids: [DEFAULT_LIST] },
      { source: { all_active_contacts: true }, list_ids: [] },
      { source: { all_active_contacts: true }, list_ids: ['11111111-1111-4111-8111-111111111111'] },
      { source: { all_active_contacts: true } },
    ];
    for (const body of bad) {
      const res = await api(sb.addr, sb.token, 'POST', REMOVE, body);
      expect([res.status, body]).toEqual([400, body]);
      expect(Array.isArray(res.body)).toBe(true);
    }
    const ok = await api(sb.addr, sb.token, 'POST', REMOVE, { source: { contact_ids: ids(500) }, list_ids: [DEFAULT_LIST] });
    expect(ok.status).toBe(201);
    const done = await waitForActivity(sb.addr, sb.token, ok.body.activity_id);
    expect(done.status).toMatchObject({ error_count: 500, memberships_removed_count: 0 });
    const wrongType = await api(sb.addr, sb.token, 'POST', REMOVE, 'source=x', { 'content-type': 'text/plain' });
    expect(wrongType.status).toBe(415);
  });
});

describe('sandbox contacts', () => {
  let s: Running;
  let t: Tokens;
  let other: string;
  beforeAll(async () => {
    s = await start();
    t = await authorize(s.addr);
    other = (await control(s.addr, 'POST', '/lists', { name: 'Other' })).body.listId;
    await control(s.addr, 'POST', '/custom-fields', { label: 'Tier' });
    const items = Array.from({ length: 1234 }, (_, i) => ({ email: `person${i}@example.com`, first_name: `P${i}`, 'cf:Tier': `t${i % 3}` }));
    await waitForActivity(s.addr, t.access_token, (await importContacts(s.addr, t.access_token, items)).body.activity_id);
    const more = Array.from({ length: 20 }, (_, i) => ({ email: `elsewhere${i}@example.com` }));
    await waitForActivity(s.addr, t.access_token, (await importContacts(s.addr, t.access_token, more, [other])).body.activity_id);
    await control(s.addr, 'POST', '/contacts/unsubscribe', { emails: ['person5@example.com'] });
  });
  afterAll(() => s.close());

  it('pages the members of a list with cursor paging via relative _links.next hrefs', async () => {
    const emails: string[] = [];
    let href: string | undefined = `/v3/contacts?lists=${DEFAULT_LIST}&limit=500&include=custom_fields,list_memberships&status=all&include_count=true`;
    let pages = 0;
    while (href) {
      const res = await api(s.addr, t.access_token, 'GET', href);
      expect(res.status).toBe(200);
      if (pages === 0) expect(res.body.contacts_count).toBe(1234);
      pages++;
      for (const c of res.body.contacts) {
        expect(c.list_memberships).toEqual([DEFAULT_LIST]);
        emails.push(c.email_address.address);
      }
      href = res.body._links?.next?.href;
      if (href) expect(href).toMatch(/^\/v3\/contacts\?/);
    }
    expect(pages).toBe(3);
    expect(emails).toHaveLength(1234);
    expect(new Set(emails).size).toBe(1234);
  });

  it('answers contacts in the documented shape with custom fields', async () => {
    const res = await api(s.addr, t.access_token, 'GET', `/contacts?lists=${DEFAULT_LIST}&limit=1&include=custom_fields,list_memberships`);
    const [c] = res.body.contacts;
    const fields = await api(s.addr, t.access_token, 'GET', '/contact_custom_fields');
    expect(c).toMatchObject({
      contact_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      email_address: { address: 'person0@example.com', permission_to_send: 'implicit', opt_in_source: 'Account' },
      first_name: 'P0',
      custom_fields: [{ custom_field_id: fields.body.custom_fields[0].custom_field_id, value: 't0' }],
      list_memberships: [DEFAULT_LIST],
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
  });

  it('filters by status', async () => {
    const unsub = await api(s.addr, t.access_token, 'GET', `/contacts?lists=${DEFAULT_LIST}&status=unsubscribed`);
    expect(unsub.body.contacts.map((c: { email_address: { address: string } }) => c.email_address.address)).toEqual(['person5@example.com']);
    expect(unsub.body.contacts[0].email_address.permission_to_send).toBe('unsubscribed');
    const active = await api(s.addr, t.access_token, 'GET', `/contacts?lists=${DEFAULT_LIST}&status=active&limit=500&include_count=true`);
    expect(active.body.contacts_count).toBe(1233);
    const all = await api(s.addr, t.access_token, 'GET', '/contacts?include_count=true');
    expect(all.body.contacts_count).toBe(1254);
    const other_ = await api(s.addr, t.access_token, 'GET', `/contacts?lists=${other}&limit=500`);
    expect(other_.body.contacts).toHaveLength(20);
    expect(other_.body._links).toBeUndefined();
  });

  it('finds one contact by email', async () => {
    const res = await api(s.addr, t.access_token, 'GET', '/contacts?email=PERSON7@example.com');
    expect(res.body.contacts.map((c: { first_name: string }) => c.first_name)).toEqual(['P7']);
    expect(res.body.contacts[0]).toMatchObject({ contact_id: expect.stringMatching(/^[0-9a-f-]{36}$/), email_address: { address: 'person7@example.com' } });
    expect((await api(s.addr, t.access_token, 'GET', '/contacts?email=nobody@example.com')).body.contacts).toEqual([]);
  });

  it('validates limit (1..500), include, status and lists', async () => {
    for (const q of ['limit=0', 'limit=501', 'limit=abc', 'include=everything', 'status=happy', 'lists=11111111-1111-4111-8111-111111111111', 'cursor=%%%']) {
      const res = await api(s.addr, t.access_token, 'GET', `/contacts?${q}`);
      expect([q, res.status]).toEqual([q, 400]);
      expect(Array.isArray(res.body)).toBe(true);
    }
  });
});
