import type { ConstantContactClient } from '../../constant-contact/client';
import { type ContactExportStatus, type ListMember, terminalActivityStates } from '../../constant-contact/types';
import { type StoreKind, storeKinds } from '../helpers/stores';
import { type RunningSandbox, useConnectedClient } from './helpers';

/** The client's reads of a list against the sandbox: a contact export with documented fields only (emails, no ids). */

const importBody = (listId: string, items: { email: string }[]) => JSON.stringify({ import_data: items, list_ids: [listId] });

describe.each(storeKinds)('Constant Contact client: list and activity reads (%s)', (kind: StoreKind) => {
  let sb: RunningSandbox;
  let client: ConstantContactClient;
  let connectionId: string;
  let listId: string;
  const emails = Array.from({ length: 30 }, (_, i) => `reader${i}@example.test`);

  useConnectedClient(kind, { sandbox: { importMinMs: 0, importMsPerContact: 0 } }, (c) => {
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
});
