import { CsvParser, type CsvRecord } from '../common/csv';
import { ConstantContactError, type ListMember } from './types';

/** Members handed to the caller at a time while a contact export's file streams in. */
const EXPORT_BATCH = 10_000;

/**
 * Reads a contact export's CSV (header row first) into batches of members. The email column is
 * found by name, in the spellings seen in exports (`email_address`, `Email address`, `email`).
 * Constant Contact documents no contact id field for exports, so `contactId` is null unless the
 * file happens to have such a column (`contact_id`, `Contact ID`); rows with neither are skipped.
 */
export async function readMembersCsv(
  body: AsyncIterable<Buffer | string>,
  onMembers: (members: ListMember[]) => Promise<void>,
): Promise<{ rows: number }> {
  const parser = new CsvParser();
  const norm = (s: string) => s.trim().toLowerCase().replace(/[\s_-]+/g, '');
  let idCol = -1;
  let emailCol = -1;
  let header = true;
  let rows = 0;
  let batch: ListMember[] = [];
  const take = async (records: CsvRecord[]) => {
    for (const r of records) {
      if (header) {
        header = false;
        const names = r.fields.map(norm);
        idCol = names.findIndex((n) => n === 'contactid' || n === 'id');
        emailCol = names.findIndex((n) => n === 'emailaddress' || n === 'email');
        if (emailCol < 0) throw new ConstantContactError('invalid_response', 'the contact export file has no email column', false);
        continue;
      }
      if (r.error) continue;
      const contactId = (idCol < 0 ? '' : (r.fields[idCol] ?? '')).trim() || null;
      const email = (r.fields[emailCol] ?? '').trim();
      if (!contactId && !email) continue;
      batch.push({ contactId, email });
      rows++;
      if (batch.length >= EXPORT_BATCH) {
        const full = batch;
        batch = [];
        await onMembers(full);
      }
    }
  };
  for await (const chunk of body) await take(parser.push(chunk));
  await take(parser.end());
  if (header) throw new ConstantContactError('invalid_response', 'the contact export file is empty (no header row)', false);
  if (batch.length) await onMembers(batch);
  return { rows };
}