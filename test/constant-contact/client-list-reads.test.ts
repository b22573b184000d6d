import type { ConstantContactClient } from '../../constant-contact/client';
import { type ContactExportStatus, type ListMember, terminalActivityStates } from '../../constant-contact/types';
import { type StoreKind, storeKinds } from '../helpers/stores';
import { type RunningSandbox, useConnectedClient } from './helpers';

/**
 * The client's reads of a list and of many imports against the sandbox: a contact export with
 * documented fields only (emails, no ids), contact ids by targeted reads, and the status of many
 * imports in one list-activities request.
 */

const importBody = (listId: string, items: { email: string }[]) => JSON.stringify({ import_data: items, list_ids: [listId] });

describe.each(storeKinds)('Constant Contact client: list and activity reads (%s)', (kind: StoreKind) => {
  let sb: RunningSandbox;
  let client: ConstantContactClient;
  let connectionId: string;
  let listId: string;
  const emails = Array.from({ length: 30 }, (_, i) => `reader${i}@example.test`);

  // The endpoint label of every request the client reports (its metrics).
  const requests: string[] = [];
  const observer = { request: (r: { endpoint: string; outcome: string }) => void requests.push(`${r.endpoint} ${r.outcome}`) };
  const reported = (label: string) => requests.filter((r) => r === label).length;

  useConnectedClient(kind, { sandbox: { importMinMs: 0, importMsPerContact: 0 }, client: { observer } }, (c) => {
    ({ sb, client, connectionId } = c);
  });

  beforeAll(async () => {
    listId = (await sb.control<{ listId: string }>('POST', '/lists', { name: 'Readers' })).listId;
    await client.importContacts(connectionId, importBody(listId, emails.map((email) => ({ email }))));
  });

  async function exportDone(activityId: string): Promise<ContactExportStatus> {
    for (let i = 0; i < 50; i++) {
      const s = await client.getContactExport(connectionId, activityId);
      if (terminalActivityStates.includes(s.state)) return s;
    }
    throw new Error('the export did not finish');
  }

  it('exports a list asking documented fields only: members come with emails and null ids', async () => {
    const before = await sb.stats();
    const { activityId } = await client.startContactExport(connectionId, { listIds: [listId] });
    const done = await exportDone(activityId);
    expect(done).toMatchObject({ state: 'completed', itemsTotal: 30, resultsHref: `/v3/contact_exports/${activityId}` });
    const members: ListMember[] = [];
    const { rows } = await client.readContactExport(connectionId, done.resultsHref!, async (batch) => void members.push(...batch));
    expect(rows).toBe(30);
    expect(members.map((m) => m.email).sort()).toEqual([...emails].sort());
    expect(members.every((m) => m.contactId === null)).toBe(true);
    expect((await sb.stats()).exportRequests - before.exportRequests).toBe(1);
  });

  it('finds contact ids by email with one targeted read per distinct email', async () => {
    const page = await client.pageListMembers(connectionId, { listId });
    const idOf = new Map(page.members.map((m) => [m.email, m.contactId]));
    const before = (await sb.stats()).byRoute['GET /v3/contacts'] ?? 0;
    const reportedBefore = reported('GET /contacts 2xx');
    const found = await client.findContactIdsByEmail(connectionId, ['Reader3@Example.test', 'reader3@example.test ', 'reader7@example.test', 'nobody@example.test']);
    expect(found).toEqual(
      new Map([
        ['reader3@example.test', idOf.get('reader3@example.test')],
        ['reader7@example.test', idOf.get('reader7@example.test')],
      ]),
    );
    expect(((await sb.stats()).byRoute['GET /v3/contacts'] ?? 0) - before).toBe(3);
    expect(reported('GET /contacts 2xx') - reportedBefore).toBe(3);
    expect(await client.findContactIdsByEmail(connectionId, [])).toEqual(new Map());
  });

  it('reads the status of 25 imports with one list-activities request', async () => {
    // Import i carries two valid contacts and i % 3 invalid addresses (correctable rows).
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      const items = [{ email: `batch${i}a@example.test` }, { email: `batch${i}b@example.test` }];
      for (let j = 0; j < i % 3; j++) items.push({ email: `not-an-email-${j}` });
      ids.push((await client.importContacts(connectionId, importBody(listId, items))).activityId);
    }
    const before = (await sb.stats()).byRoute['GET /v3/activities'] ?? 0;
    const reportedBefore = reported('GET /activities 2xx');
    const listed = await client.listActivities(connectionId, { state: 'completed', limit: 25 });
    expect(((await sb.stats()).byRoute['GET /v3/activities'] ?? 0) - before).toBe(1);
    expect(reported('GET /activities 2xx') - reportedBefore).toBe(1);
    expect(listed.map((a) => a.activityId)).toEqual([...ids].reverse());
    listed.reverse().forEach((a, i) => {
      expect(a).toEqual({
        activityId: ids[i],
        state: 'completed',
        percentDone: 100,
        itemsTotal: 2 + (i % 3),
        itemsCompleted: 2 + (i % 3),
        personCount: 2,
        errorCount: 0,
        correctableCount: i % 3,
        cannotAddToListCount: 0,
      });
    });
  });

  it('follows the next links only when asked, and refuses a limit over 500', async () => {
    const before = (await sb.stats()).byRoute['GET /v3/activities'] ?? 0;
    expect(await client.listActivities(connectionId, { limit: 10 })).toHaveLength(10);
    // 26 imports and 1 export so far: 3 pages of 10.
    const total = sb.sandbox.state.activities.size;
    expect(total).toBe(27);
    const all = await client.listActivities(connectionId, { limit: 10, allPages: true });
    expect(new Set(all.map((a) => a.activityId))).toEqual(new Set(sb.sandbox.state.activities.keys()));
    expect(((await sb.stats()).byRoute['GET /v3/activities'] ?? 0) - before).toBe(1 + 3);
    await expect(client.listActivities(connectionId, { limit: 501 })).rejects.toMatchObject({ code: 'bad_request', retryable: false });
  });
});
