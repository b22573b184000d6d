import { Readable } from 'node:stream';
import { readMembersCsv } from '../../constant-contact/client';
import { ConstantContactError, type ListMember } from '../../constant-contact/types';

/** The contact export file reader: the email column found by name, ids only if a column has them, quoting, batches, files it cannot use. */

async function read(chunks: string[]): Promise<{ members: ListMember[]; batches: number; rows: number }> {
  const members: ListMember[] = [];
  let batches = 0;
  const { rows } = await readMembersCsv(Readable.from(chunks.map((c) => Buffer.from(c))), async (batch) => {
    batches++;
    members.push(...batch);
  });
  return { members, batches, rows };
}

it('reads emails by the email_address column, with quoted fields split across chunks; no id column gives null ids', async () => {
  const r = await read(['first_name,email_address,last_name\r\n"Smith, ', 'Jo",jo@example.com,S\r\n', '"A ""quoted"" name",a@example.com,\n']);
  expect(r.members).toEqual([
    { contactId: null, email: 'jo@example.com' },
    { contactId: null, email: 'a@example.com' },
  ]);
  expect(r.rows).toBe(2);
});

it('accepts the header spellings of Constant Contact exports, and contact ids when a file has them', async () => {
  for (const header of ['\uFEFFEmail address', 'email address', 'EMAIL_ADDRESS', 'email']) {
    const r = await read([`${header},First name\n`, 'b@example.com,B\n', ',C\n', 'c@example.com,\n']);
    // A row without an email (nor an id) tells nothing and is skipped.
    expect([header, r.members]).toEqual([header, [{ contactId: null, email: 'b@example.com' }, { contactId: null, email: 'c@example.com' }]]);
  }
  const withIds = await read(['Email address,Contact ID\n', 'b@example.com,id-9\n', ',id-10\n', 'c@example.com,\n']);
  expect(withIds.members).toEqual([
    { contactId: 'id-9', email: 'b@example.com' },
    { contactId: 'id-10', email: '' },
    { contactId: null, email: 'c@example.com' },
  ]);
});

it('hands members over in batches of 10,000', async () => {
  const lines = ['email_address\n'];
  for (let i = 0; i < 25_000; i++) lines.push(`p${i}@example.com\n`);
  const r = await read(lines);
  expect(r.rows).toBe(25_000);
  expect(r.batches).toBe(3);
  expect(new Set(r.members.map((m) => m.email)).size).toBe(25_000);
});

it('refuses a file without an email column, or an empty one, as invalid_response', async () => {
  for (const file of [['contact_id,first_name\nid-1,X\n'], ['']]) {
    const err = await read(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConstantContactError);
    expect((err as ConstantContactError).code).toBe('invalid_response');
  }
});
