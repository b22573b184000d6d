import type { ConstantContactClient } from '../../constant-contact/client';
import { ImportPacker, type PackedImport } from '../../constant-contact/packing';
import type { ImportContact } from '../../constant-contact/types';
import { createTestStore, type TestStore } from '../helpers/stores';
import { authorizeConnection, ccConfig, insertConnection, makeClient, type RunningSandbox, startSandbox } from './helpers';

const FOUR_MB = 4 * 1024 * 1024;
const CONTACTS = 120_000;

/** The widest contacts the field limits allow: 50-character names, 25 custom fields of 255 characters. */
function* widestContacts(fieldNames: string[]): Generator<{ contact: ImportContact; tag: number }> {
  const value = (i: number, f: number) => `${i}:${f}:`.padEnd(255, 'x');
  for (let i = 0; i < CONTACTS; i++) {
    const contact: ImportContact = {
      email: `p${String(i).padStart(6, '0')}@example.test`,
      first_name: `First${i}`.padEnd(50, 'f'),
      last_name: `Last${i}`.padEnd(50, 'l'),
    };
    fieldNames.forEach((name, f) => (contact[`cf:${name}`] = value(i, f)));
    yield { contact, tag: i };
  }
}

describe('Constant Contact client: packing and importing 120,000 of the widest contacts', () => {
  let ts: TestStore;
  let sb: RunningSandbox;
  let client: ConstantContactClient;

  beforeAll(async () => {
    ts = await createTestStore('sqlite');
    // A faster per-key limit (a partner key) so the 200 requests take seconds, paced all the same.
    sb = await startSandbox({ ratePerSecond: 20, importMinMs: 0, importMsPerContact: 0 });
    client = makeClient(ts.store, ccConfig(sb.address, { ratePerSecond: 20, maxImportBytes: FOUR_MB }));
  });
  afterAll(async () => {
    await client.close();
    await sb.close();
    await ts.destroy();
  });

  it('never sends a request of 4 MB or more (nothing truncated) and every contact ends up in the list', async () => {
    const connectionId = await insertConnection(ts.store);
    await authorizeConnection(client, ts.store, connectionId);
    const { listId } = await sb.control<{ listId: string }>('POST', '/lists', { name: 'Widest contacts' });
    for (let f = 0; f < 25; f++) await sb.control('POST', '/custom-fields', { label: `Attribute ${f}` });
    const fieldNames = (await client.listCustomFields(connectionId)).map((f) => f.name);
    expect(fieldNames).toHaveLength(25);

    const packer = new ImportPacker<number>({ listIds: [listId], maxContacts: 40_000, maxBytes: FOUR_MB });
    let requests = 0;
    let sent = 0;
    let largest = 0;
    let nextTag = 0;
    const send = async (p: PackedImport<number>) => {
      expect(p.bytes).toBe(Buffer.byteLength(p.body));
      expect(p.bytes).toBeLessThan(FOUR_MB);
      // Tags come back in order, none skipped or repeated.
      expect(p.tags[0]).toBe(nextTag);
      expect(p.tags[p.tags.length - 1]).toBe(nextTag + p.contacts - 1);
      nextTag += p.contacts;
      largest = Math.max(largest, p.bytes);
      await client.importContacts(connectionId, p.body);
      requests++;
      sent += p.contacts;
    };
    for (const { contact, tag } of widestContacts(fieldNames)) {
      const done = packer.add(contact, tag);
      if (done) await send(done);
    }
    const last = packer.finish();
    if (last) await send(last);

    expect(sent).toBe(CONTACTS);
    // Cut by bytes, not by count: about 600 contacts a request, each body filled close to 4 MB.
    expect(requests).toBeGreaterThan(150);
    expect(largest).toBeGreaterThan(FOUR_MB - 8 * 1024);

    const stats = await sb.stats();
    expect(stats.truncatedRequests).toBe(0);
    expect(stats.truncatedContacts).toBe(0);
    expect(stats.importRequests).toBe(requests);
    expect(stats.importedContacts).toBe(CONTACTS);
    expect(stats.throttled).toBe(0);

    // Members of the list = input, read back through the API (500 a page).
    expect((await client.getList(connectionId, listId)).memberCount).toBe(CONTACTS);
    const seen = new Set<string>();
    let next: string | null | undefined;
    do {
      const page = await client.pageListMembers(connectionId, { listId, next });
      for (const m of page.members) seen.add(m.email);
      next = page.next;
    } while (next);
    expect(seen.size).toBe(CONTACTS);
    for (let i = 0; i < CONTACTS; i += 997) expect(seen.has(`p${String(i).padStart(6, '0')}@example.test`)).toBe(true);
  }, 300_000); // ~200 imports of 4 MB, each taking the sandbox a few hundred ms to read
});
