import { ContactTooLargeError, ImportPacker, packImports, type PackedImport } from '../../constant-contact/packing';
import type { ImportContact } from '../../constant-contact/types';

const LIST = '00000000-0000-4000-8000-000000000001';

function contact(i: number, extra: Partial<ImportContact> = {}): ImportContact {
  return { email: `person${i}@example.test`, first_name: `First${i}`, last_name: `Last${i}`, ...extra } as ImportContact;
}

function unpack(body: string): { import_data: ImportContact[]; list_ids: string[] } {
  return JSON.parse(body);
}

describe('import packing', () => {
  it('cuts by contact count and keeps every contact in order', () => {
    const out = [...packImports(
      Array.from({ length: 25 }, (_, i) => ({ contact: contact(i), tag: i })),
      { listIds: [LIST], maxContacts: 10, maxBytes: 1_000_000 },
    )];
    expect(out.map((p) => p.contacts)).toEqual([10, 10, 5]);
    expect(out.flatMap((p) => p.tags)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    const emails = out.flatMap((p) => unpack(p.body).import_data.map((c) => c.email));
    expect(emails).toEqual(Array.from({ length: 25 }, (_, i) => `person${i}@example.test`));
    for (const p of out) {
      expect(unpack(p.body).list_ids).toEqual([LIST]);
      expect(p.bytes).toBe(Buffer.byteLength(p.body));
    }
  });

  it('cuts by UTF-8 bytes, envelope included, staying strictly under the limit', () => {
    // Multi-byte names: character counts would underestimate the size.
    const name = 'Zoë Ñandú 東京 🙂'.repeat(3);
    const contacts = Array.from({ length: 300 }, (_, i) => ({ contact: contact(i, { first_name: name }), tag: i }));
    const one = Buffer.byteLength(JSON.stringify(contacts[0].contact));
    const envelope = Buffer.byteLength(`{"import_data":[],"list_ids":["${LIST}"]}`);
    // Room for exactly 7 contacts and their 6 commas: a body of 7 would be exactly maxBytes, so 6 fit.
    const maxBytes = envelope + 7 * one + 6;
    const out = [...packImports(contacts, { listIds: [LIST], maxContacts: 40_000, maxBytes })];
    for (const p of out) {
      expect(Buffer.byteLength(p.body)).toBeLessThan(maxBytes);
      expect(p.bytes).toBe(Buffer.byteLength(p.body));
    }
    expect(out[0].contacts).toBe(6);
    expect(out.reduce((n, p) => n + p.contacts, 0)).toBe(300);
    expect(out.flatMap((p) => unpack(p.body).import_data.map((c) => c.first_name))).toEqual(contacts.map(() => name));
  });

  it('fills a body up to one byte under the limit', () => {
    const c = contact(1);
    const envelope = Buffer.byteLength(`{"import_data":[],"list_ids":["${LIST}"]}`);
    const one = Buffer.byteLength(JSON.stringify(c));
    const packer = new ImportPacker<number>({ listIds: [LIST], maxContacts: 100, maxBytes: envelope + 3 * one + 2 + 1 });
    const emitted: PackedImport<number>[] = [];
    for (let i = 0; i < 4; i++) {
      const done = packer.add(c, i);
      if (done) emitted.push(done);
    }
    expect(emitted).toHaveLength(1);
    expect(emitted[0].contacts).toBe(3);
    expect(emitted[0].bytes).toBe(envelope + 3 * one + 2);
    expect(packer.pending).toBe(1);
    expect(packer.finish()?.tags).toEqual([3]);
    expect(packer.finish()).toBeUndefined();
  });

  it('refuses a contact that cannot fit in any body, rather than dropping or splitting it', () => {
    const packer = new ImportPacker<number>({ listIds: [LIST], maxContacts: 10, maxBytes: 200 });
    packer.add(contact(1), 1);
    expect(() => packer.add(contact(2, { 'cf:notes': 'x'.repeat(300) }), 2)).toThrow(ContactTooLargeError);
    expect(packer.finish()?.tags).toEqual([1]);
  });

  it('names between 1 and 50 lists', () => {
    expect(() => new ImportPacker({ listIds: [], maxContacts: 10, maxBytes: 1000 })).toThrow();
    expect(() => new ImportPacker({ listIds: Array(51).fill(LIST), maxContacts: 10, maxBytes: 1000 })).toThrow();
  });

  it('packs 1,000,000 contacts into 25 bodies, each under the byte limit, losing none', () => {
    const packer = new ImportPacker<number>({ listIds: [LIST], maxContacts: 40_000, maxBytes: 4 * 1024 * 1024 - 64 * 1024 });
    let bodies = 0;
    let contacts = 0;
    let largest = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const done = packer.add({ email: `p${i}@example.test`, first_name: 'Ada', last_name: 'Lovelace', 'cf:tier': 'gold' }, i);
      if (done) {
        bodies++;
        contacts += done.contacts;
        largest = Math.max(largest, done.bytes);
      }
    }
    const last = packer.finish();
    if (last) {
      bodies++;
      contacts += last.contacts;
    }
    expect(contacts).toBe(1_000_000);
    expect(bodies).toBe(25);
    expect(largest).toBeLessThan(4 * 1024 * 1024 - 64 * 1024);
  });
});
