import { cutChunk, type SnapshotReader, type SnapshotRow } from '../../activities/chunks';
import { emailKeyOf, mapProfile, toImportContact, truncate } from '../../activities/contacts';
import type { Mapping } from '../../store/types';

/** Pure code of the upload step: mapping and validating a profile, cutting chunks deterministically. */

describe('toImportContact', () => {
  test('maps email, names and custom fields; trims the email', () => {
    const r = toImportContact({ email: '  Anna.Abols@Example.com\t', firstName: 'Anna', lastName: 'Abols', customFields: { tier: 'gold', score: 7, none: null } }, null);
    expect(r).toEqual({ ok: true, key: 'anna.abols@example.com', contact: { email: 'Anna.Abols@Example.com', first_name: 'Anna', last_name: 'Abols', 'cf:tier': 'gold', 'cf:score': '7' } });
  });

  test.each([
    [undefined, 'missing_email'],
    [null, 'missing_email'],
    ['   ', 'missing_email'],
    [true, 'missing_email'],
    ['not an email', 'invalid_email'],
    ['a@b', 'invalid_email'],
    ['a@@example.com', 'invalid_email'],
    [`${'x'.repeat(40)}@example.com`, 'email_too_long'],
  ])('rejects %p with %s', (email, reason) => {
    const r = toImportContact({ email }, null);
    expect(r).toMatchObject({ ok: false, reason });
  });

  test('an email equal to the previous accepted one (any case) is a duplicate', () => {
    expect(toImportContact({ email: 'ANNA@example.com ' }, 'anna@example.com')).toMatchObject({ ok: false, reason: 'duplicate_email', email: 'ANNA@example.com' });
    expect(toImportContact({ email: 'anna2@example.com' }, 'anna@example.com')).toMatchObject({ ok: true });
  });

  test('names over 50 characters and custom values over 255 are truncated, not rejected; at most 25 custom fields', () => {
    const fields: Record<string, unknown> = {};
    for (let i = 0; i < 30; i++) fields[`f${i}`] = 'v'.repeat(300);
    const r = toImportContact({ email: 'a@example.com', firstName: 'N'.repeat(80), lastName: `${'L'.repeat(49)}😀`, customFields: fields }, null);
    if (!r.ok) throw new Error('rejected');
    expect(r.contact.first_name).toHaveLength(50);
    expect(r.contact.last_name).toBe('L'.repeat(49)); // never half a surrogate pair
    const custom = Object.keys(r.contact).filter((k) => k.startsWith('cf:'));
    expect(custom).toHaveLength(25);
    expect(r.contact['cf:f0']).toHaveLength(255);
    expect(truncate('abc', 5)).toBe('abc');
  });

  test('the email key is what the snapshot orders by', () => {
    expect(emailKeyOf(' \tJĀNIS@Example.LV\r\n')).toBe('jānis@example.lv');
  });

  test('mapProfile reads attributes through the mapping', () => {
    const mapping: Mapping = { email: 'Mail', firstName: 'Given', customFields: { loyalty: 'Tier' } };
    expect(mapProfile({ Mail: 'a@example.com', Given: 'A', Family: 'B', Tier: 'gold' }, mapping)).toEqual({ email: 'a@example.com', firstName: 'A', customFields: { loyalty: 'gold' } });
  });
});

/** A snapshot in memory, ordered as store/snapshots.ts orders it (email key, nulls last). */
function memorySnapshot(emails: (string | null)[]): SnapshotReader & { reads: number } {
  const rows: SnapshotRow[] = emails
    .map((email, i) => ({ profileId: `p${i}`, email }))
    .sort((a, b) => {
      const ka = a.email === null ? null : emailKeyOf(a.email);
      const kb = b.email === null ? null : emailKeyOf(b.email);
      if (ka === kb) return a.profileId < b.profileId ? -1 : 1;
      if (ka === null) return 1;
      if (kb === null) return -1;
      return ka < kb ? -1 : 1;
    })
    .map((r, i) => ({ seq: i + 1, profileId: r.profileId, emailKey: r.email === null ? null : emailKeyOf(r.email), data: { Email: r.email } }));
  const reader = {
    reads: 0,
    async readPage(_runId: string, afterSeq: number, limit: number) {
      reader.reads++;
      return rows.filter((r) => r.seq > afterSeq).slice(0, limit);
    },
  };
  return reader;
}

const limits = (maxContacts: number, maxBytes = 4_000_000, pageSize = 7) => ({ listId: '00000000-0000-4000-8000-000000000001', mapping: { email: 'Email' }, maxContacts, maxBytes, pageSize });

async function cutAll(reader: SnapshotReader, l: ReturnType<typeof limits>) {
  const chunks = [];
  let cursor = { afterSeq: -1 as number, lastAcceptedSeq: null as number | null };
  for (let i = 0; i < 1000; i++) {
    const chunk = await cutChunk(reader, 'run_x', cursor, l);
    chunks.push(chunk);
    cursor = chunk.nextCursor;
    if (chunk.done) break;
  }
  return chunks;
}

describe('cutChunk', () => {
  const emails: (string | null)[] = [];
  for (let i = 0; i < 53; i++) emails.push(`person${i}@example.com`);
  emails.push('PERSON7@example.com', 'person7@EXAMPLE.com', null, 'bad', `${'y'.repeat(45)}@example.com`);

  test('chunks tile the snapshot: every row in exactly one chunk, every valid email sent once', async () => {
    const reader = memorySnapshot(emails);
    const chunks = await cutAll(reader, limits(10));
    let next = 1;
    const sent: string[] = [];
    for (const c of chunks) {
      expect(c.firstSeq).toBe(next);
      next = c.lastSeq + 1;
      for (const part of c.packed ? JSON.parse(c.packed.body).import_data : []) sent.push(part.email.toLowerCase());
      expect(c.packed?.contacts ?? 0).toBeLessThanOrEqual(10);
    }
    expect(next - 1).toBe(emails.length);
    expect(sent).toHaveLength(53);
    expect(new Set(sent).size).toBe(53);
    expect(chunks.reduce((n, c) => n + c.duplicates, 0)).toBe(2);
    expect(chunks.reduce((n, c) => n + c.rejected, 0)).toBe(3);
    expect(chunks.at(-1)!.done).toBe(true);
  });

  test('a duplicate that starts a chunk is still recognized (the cursor remembers the last accepted row)', async () => {
    // person7 and its two other spellings are neighbours; with chunks of 1 contact they straddle a boundary.
    const reader = memorySnapshot(emails);
    const chunks = await cutAll(reader, limits(1));
    expect(chunks.reduce((n, c) => n + c.duplicates, 0)).toBe(2);
    expect(chunks.filter((c) => c.packed).length).toBe(53);
  });

  test('cuts by bytes too: every body stays under the limit', async () => {
    const reader = memorySnapshot(emails);
    const chunks = await cutAll(reader, limits(1000, 200));
    for (const c of chunks) if (c.packed) expect(c.packed.bytes).toBeLessThan(200);
    expect(chunks.filter((c) => c.packed).reduce((n, c) => n + c.packed!.contacts, 0)).toBe(53);
  });

  test('the same cursor gives the same chunk; a rebuild of a recorded range gives the same body', async () => {
    const reader = memorySnapshot(emails);
    const first = await cutChunk(reader, 'run_x', { afterSeq: 20, lastAcceptedSeq: 20 }, limits(10));
    const again = await cutChunk(reader, 'run_x', { afterSeq: 20, lastAcceptedSeq: 20 }, limits(10));
    expect(again).toEqual(first);
    const rebuilt = await cutChunk(reader, 'run_x', { afterSeq: 20, lastAcceptedSeq: 20 }, limits(10), { untilSeq: first.lastSeq });
    expect(rebuilt.packed?.body).toBe(first.packed?.body);
    expect(rebuilt.nextCursor).toEqual(first.nextCursor);
  });

  test('an empty snapshot gives an empty, finished chunk', async () => {
    const chunk = await cutChunk(memorySnapshot([]), 'run_x', { afterSeq: -1, lastAcceptedSeq: null }, limits(10));
    expect(chunk).toMatchObject({ packed: undefined, done: true, rejects: [] });
    expect(chunk.lastSeq).toBeLessThan(chunk.firstSeq);
  });
});
