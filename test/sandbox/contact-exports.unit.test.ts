import { CsvParser } from '../../common/csv';
import { api, control, DEFAULT_LIST, importContacts, useAuthorizedSandbox, waitForActivity } from './helpers';

/** The contact export activity as Constant Contact documents it: required, documented fields only; one source; a status filter. */

const EXPORT = '/activities/contact_exports';

describe('sandbox contact exports', () => {
  const sb = useAuthorizedSandbox();
  let other: string;
  const post = (body: unknown) => api(sb.addr, sb.token, 'POST', EXPORT, body);
  beforeAll(async () => {
    other = (await control(sb.addr, 'POST', '/lists', { name: 'Other' })).body.listId;
    const items = Array.from({ length: 30 }, (_, i) => ({ email: `person${i}@example.com`, first_name: `P${i}`, last_name: `L${i}` }));
    await waitForActivity(sb.addr, sb.token, (await importContacts(sb.addr, sb.token, items)).body.activity_id);
    const more = [
      { email: 'Ada@Example.com', first_name: 'Ada', last_name: 'Lovelace', job_title: 'Analyst', company_name: 'Engines, Ltd' },
      { email: 'bob@example.com', first_name: 'Bob' },
      { email: 'cy@example.com' },
    ];
    await waitForActivity(sb.addr, sb.token, (await importContacts(sb.addr, sb.token, more, [other, DEFAULT_LIST])).body.activity_id);
    await control(sb.addr, 'POST', '/contacts/unsubscribe', { emails: ['cy@example.com'] });
  });

  /** Posts an export, waits for it and returns its CSV as rows of fields (the header first). */
  async function exported(body: Record<string, unknown>): Promise<string[][]> {
    const res = await post(body);
    if (res.status !== 201) throw new Error(`export answered ${res.status}: ${res.text}`);
    const done = await waitForActivity(sb.addr, sb.token, res.body.activity_id);
    expect(done._links.results.href).toBe(`/v3/contact_exports/${res.body.activity_id}`);
    const csv = await api(sb.addr, sb.token, 'GET', done._links.results.href);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const parser = new CsvParser();
    return [...parser.push(csv.text), ...parser.end()].map((r) => r.fields);
  }

  const emails = (rows: string[][]) => rows.slice(1).map((r) => r[0]).sort();

  it('writes the documented columns of a list, email_address giving the email', async () => {
    const fields = ['email_address', 'first_name', 'last_name', 'job_title', 'company_name', 'email_permission', 'email_lists', 'created_at', 'updated_at'];
    const rows = await exported({ list_ids: [other], fields });
    expect(rows[0]).toEqual(fields);
    expect(rows).toHaveLength(4);
    const ada = rows.find((r) => r[0] === 'Ada@Example.com')!;
    expect(ada.slice(0, 7)).toEqual(['Ada@Example.com', 'Ada', 'Lovelace', 'Analyst', 'Engines, Ltd', 'implicit', 'Sandbox list, Other']);
    expect(ada.slice(7).every((v) => !Number.isNaN(Date.parse(v)))).toBe(true);
    expect(rows.find((r) => r[0] === 'cy@example.com')![5]).toBe('unsubscribed');
  });

  it('refuses undocumented field names (contact_id, email), a missing or empty fields list', async () => {
    const before = (await control(sb.addr, 'GET', '/stats')).body.exportRequests;
    const bodies = [
      { list_ids: [other], fields: ['contact_id'] },
      { list_ids: [other], fields: ['email'] },
      { list_ids: [other], fields: ['email_address', 'contact_id'] },
      { list_ids: [other], fields: ['permission_to_send'] },
      { list_ids: [other], fields: [] },
      { list_ids: [other] },
    ];
    for (const body of bodies) {
      const res = await post(body);
      expect([body, res.status]).toEqual([body, 400]);
      expect(res.body).toEqual([{ error_key: expect.any(String), error_message: expect.any(String) }]);
    }
    expect((await control(sb.addr, 'GET', '/stats')).body.exportRequests).toBe(before);
  });

  it('takes one source at most, up to 500 contact ids, and a documented status only', async () => {
    const fields = ['email_address'];
    const bodies = [
      { list_ids: [other], contact_ids: ['x'], fields },
      { segment_id: 7, fields },
      { contact_ids: Array.from({ length: 501 }, (_, i) => `c${i}`), fields },
      { contact_ids: [], fields },
      { list_ids: ['11111111-1111-4111-8111-111111111111'], fields },
      { list_ids: [other], status: 'deleted', fields },
    ];
    for (const body of bodies) expect((await post(body)).status).toBe(400);
  });

  it('filters by status: active, unsubscribed, removed', async () => {
    const fields = ['email_address'];
    expect(emails(await exported({ list_ids: [other], status: 'active', fields }))).toEqual(['Ada@Example.com', 'bob@example.com']);
    expect(emails(await exported({ list_ids: [other], status: 'unsubscribed', fields }))).toEqual(['cy@example.com']);
    expect(await exported({ list_ids: [other], status: 'removed', fields })).toEqual([fields]);
  });

  it('exports contacts by id, or every contact of the account without a source', async () => {
    const page = await api(sb.addr, sb.token, 'GET', `/contacts?lists=${other}&limit=2`);
    const ids = page.body.contacts.map((c: { contact_id: string }) => c.contact_id);
    expect(emails(await exported({ contact_ids: [...ids, 'unknown-id'], fields: ['email_address'] }))).toEqual(['Ada@Example.com', 'bob@example.com']);
    expect(await exported({ fields: ['email_address', 'first_name'] })).toHaveLength(34);
  });
});
