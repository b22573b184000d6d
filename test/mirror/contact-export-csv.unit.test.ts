import { Readable } from 'node:stream';
import { readMembersCsv } from '../../constant-contact/client';
import { ConstantContactError, type ListMember } from '../../constant-contact/types';

/** The contact export file reader: columns found by name, quoting, batches, files it cannot use. */

async function read(chunks: string[]): Promise<{ members: ListMember[]; batches: number; rows: number }> {
  const members: ListMember[] = [];
  let batches = 0;
  const { rows } = await readMembersCsv(Readable.from(chunks.map((c) => Buffer.from(c))), async (batch) => {
    batches++;
    members.push(...batch);
  });
  return { members, batches, rows };
}

it('reads contact ids and emails by column name, with quoted fields split across chunks', async () => {
  const r = await read(['first_name,email,contact_id\r\n"Smith, ', 'Jo",jo@example.com,id-1\r\n', '"A ""quoted"" name",a@example.com,id-2\n']);
  expect(r.members).toEqual([
    { contactId: 'id-1', email: 'jo@example.com' },
    { contactId: 'id-2', email: 'a@example.com' },
  ]);
  expect(r.rows).toBe(2);
});

it('accepts the column names of Constant Contact exports', async () => {
  const r = await read(['\uFEFFEmail address,Contact ID\n', 'b@example.com,id-9\n', ',id-10\n', 'c@example.com,\n']);
  // A row without a contact id cannot be removed and is skipped; one without an email is kept (it is in no snapshot).
  expect(r.members).toEqual([
    { contactId: 'id-9', email: 'b@example.com' },
    { contactId: 'id-10', email: '' },
  ]);
});

it('hands members over in batches of 1000', async () => {
  const lines = ['contact_id,email\n'];
  for (let i = 0; i < 2500; i++) lines.push(`id-${i},p${i}@example.com\n`);
  const r = await read(lines);
  expect(r.rows).toBe(2500);
  expect(r.batches).toBe(3);
  expect(new Set(r.members.map((m) => m.contactId)).size).toBe(2500);
});

it('refuses a file without a contact id column, or an empty one, as invalid_response', async () => {
  for (const file of [['email,first_name\nx@example.com,X\n'], ['']]) {
    const err = await read(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConstantContactError);
    expect((err as ConstantContactError).code).toBe('invalid_response');
  }
});
