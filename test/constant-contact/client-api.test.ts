import type { ConstantContactClient } from '../../constant-contact/client';
import { ImportPacker } from '../../constant-contact/packing';
import { type ActivityStatus, type ListMember, terminalActivityStates } from '../../constant-contact/types';
import { DEFAULT_LIST_ID } from '../../sandbox/server';
import { type StoreKind, storeKinds } from '../helpers/stores';
import { type RunningSandbox, useConnectedClient } from './helpers';

async function untilTerminal(client: ConstantContactClient, connectionId: string, activityId: string): Promise<ActivityStatus> {
  for (let i = 0; i < 50; i++) {
    const a = await client.getActivity(connectionId, activityId);
    if (terminalActivityStates.includes(a.state)) return a;
  }
  throw new Error('activity did not finish');
}

describe.each(storeKinds)('Constant Contact client: the calls (%s)', (kind: StoreKind) => {
  let sb: RunningSandbox;
  let client: ConstantContactClient;
  let connectionId: string;

  useConnectedClient(kind, { sandbox: { maxCustomFields: 150, importMinMs: 0, importMsPerContact: 0 } }, (c) => {
    ({ sb, client, connectionId } = c);
  });

  it('lists every list, following the cursor links', async () => {
    // 1,001 lists: more than one page of 1,000.
    const created = new Set<string>();
    for (let i = 0; i < 1000; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, j) => sb.control<{ listId: string }>('POST', '/lists', { name: `List ${i + j}` })));
      for (const l of batch) created.add(l.listId);
    }
    const lists = await client.listLists(connectionId);
    expect(lists).toHaveLength(1001);
    expect(new Set(lists.map((l) => l.listId))).toEqual(new Set([DEFAULT_LIST_ID, ...created]));
    expect(lists.find((l) => l.listId === DEFAULT_LIST_ID)).toEqual({ listId: DEFAULT_LIST_ID, name: 'Sandbox list', memberCount: 0 });
    expect((await sb.stats()).byRoute['GET /v3/contact_lists']).toBe(2);
  });

  it('lists every custom field, following the paging links', async () => {
    for (let i = 0; i < 120; i++) await sb.control('POST', '/custom-fields', { label: `Field ${i}` });
    const fields = await client.listCustomFields(connectionId);
    expect(fields).toHaveLength(120);
    expect(fields[0]).toEqual({ customFieldId: expect.any(String), label: 'Field 0', name: 'Field_0', type: 'string' });
    expect(new Set(fields.map((f) => f.name)).size).toBe(120);
  });

  it('imports, polls the activity to its end with its counts, pages the members and removes some', async () => {
    await sb.control('POST', '/contacts/unsubscribe', { emails: ['gone@example.test'] });
    const packer = new ImportPacker<number>({ listIds: [DEFAULT_LIST_ID], maxContacts: 40_000, maxBytes: 4 * 1024 * 1024 });
    for (let i = 0; i < 1_200; i++) packer.add({ email: `member${i}@example.test`, first_name: `M${i}`, 'cf:Field_3': `v${i}` }, i);
    packer.add({ email: 'not-an-email' }, 1_200);
    packer.add({ email: 'gone@example.test' }, 1_201);
    const body = packer.finish()!;

    const { activityId } = await client.importContacts(connectionId, body.body);
    const done = await untilTerminal(client, connectionId, activityId);
    expect(done).toMatchObject({
      activityId,
      state: 'completed',
      percentDone: 100,
      itemsTotal: 1_202,
      correctableCount: 1,
      cannotAddToListCount: 1,
    });

    const members: ListMember[] = [];
    let next: string | null | undefined;
    let pages = 0;
    do {
      const page = await client.pageListMembers(connectionId, { listId: DEFAULT_LIST_ID, next });
      members.push(...page.members);
      next = page.next;
      pages++;
    } while (next);
    expect(pages).toBe(3);
    expect(members).toHaveLength(1_200);
    expect(new Set(members.map((m) => m.email))).toEqual(new Set(Array.from({ length: 1_200 }, (_, i) => `member${i}@example.test`)));

    // Pages of GET /contacts name every member's contact id.
    const leaving = members.slice(0, 500).map((m) => m.contactId);
    expect(leaving.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    const removal = await client.removeListMemberships(connectionId, { contactIds: leaving as string[], listIds: [DEFAULT_LIST_ID] });
    expect((await untilTerminal(client, connectionId, removal.activityId)).state).toBe('completed');
    expect((await client.getList(connectionId, DEFAULT_LIST_ID)).memberCount).toBe(700);
  });

  it('refuses more than 500 contact ids in one removal', async () => {
    await expect(
      client.removeListMemberships(connectionId, { contactIds: Array.from({ length: 501 }, (_, i) => `c${i}`), listIds: [DEFAULT_LIST_ID] }),
    ).rejects.toMatchObject({ code: 'bad_request', retryable: false });
  });
});
