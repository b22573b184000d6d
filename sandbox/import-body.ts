import { type ImportPerson, ImportRequestError, itemsFittingIn, validateImportItems } from './import';

/**
 * What the import thread does with a contacts_json_import body (import-worker.ts): parse it, check
 * its shape, apply the 4 MB truncation and validate the items (the verdict, enough to answer), then
 * pack the valid contacts for the main thread. Everything here is pure; the checks that need the
 * account (the lists exist, room in the queue) stay on the main thread (v3/imports.ts).
 */

/** The limits and the account's custom field names a body is parsed against. */
export interface ImportRules {
  maxImportBytes: number;
  maxImportContacts: number;
  /** The account's custom fields: [name, custom_field_id]. */
  customFields: [string, string][];
}

/**
 * The valid contacts as JSON text, in batches of at most PERSONS_PER_BATCH contacts and about
 * BATCH_CHARS characters: strings cross between threads at the cost of a copy, where tens of
 * thousands of objects would take hundreds of milliseconds to rebuild on the main thread; the main
 * thread parses one batch at a time when the activity is applied.
 */
export interface PackedPersons {
  batches: string[];
  count: number;
}

const PERSONS_PER_BATCH = 1000;
const BATCH_CHARS = 256 * 1024;

/** A body refused before anything about the account is looked at (400). */
export interface ImportBodyRefused {
  ok: false;
  key: string;
  message: string;
}

export interface ImportBodyParsed {
  ok: true;
  /** `list_ids` as sent (the main thread checks it against the account). */
  listIds: unknown;
  /** Items in the body. */
  received: number;
  /** Items kept: those ending within the first maxImportBytes of a larger body, else all. */
  kept: number;
  /** The body is larger than maxImportBytes. */
  truncated: boolean;
  /** A structural problem of an item: the request is refused (400) once the list ids pass. */
  invalidItem?: string;
  errorCount: number;
  correctableCount: number;
}

export type ImportVerdict = ImportBodyRefused | ImportBodyParsed;

export interface ParsedImportBody {
  verdict: ImportVerdict;
  /** The valid contacts (none when the body is refused), duplicates merged. */
  persons: ImportPerson[];
}

const refuse = (message: string, key = 'bad_request'): ParsedImportBody => ({ verdict: { ok: false, key, message }, persons: [] });

export function parseImportBody(raw: Buffer, rules: ImportRules): ParsedImportBody {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return refuse('The request body is not valid JSON.', 'malformed_json');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return refuse('The request body must be a JSON object.');
  const { import_data: importData, list_ids: listIds, ...rest } = body as Record<string, unknown>;
  const unknownKeys = Object.keys(rest);
  if (unknownKeys.length) return refuse(`Unknown property: ${unknownKeys.join(', ')}.`);
  if (!Array.isArray(importData) || importData.length === 0) return refuse("'import_data' must be an array of 1 to 40000 contacts.", 'import_data.required');
  if (importData.length > rules.maxImportContacts) {
    return refuse(`'import_data' accepts at most ${rules.maxImportContacts} contacts; got ${importData.length}.`, 'import_data.too_many');
  }

  // Like Constant Contact: only the first 4 MB are imported; the rest is dropped silently.
  const truncated = raw.length > rules.maxImportBytes;
  const items = truncated ? importData.slice(0, itemsFittingIn(raw, rules.maxImportBytes)) : importData;
  const parsed = { ok: true as const, listIds, received: importData.length, kept: items.length, truncated };
  try {
    const valid = validateImportItems(items, new Map(rules.customFields));
    return { verdict: { ...parsed, errorCount: valid.errorCount, correctableCount: valid.correctableCount }, persons: valid.persons };
  } catch (err) {
    if (!(err instanceof ImportRequestError)) throw err;
    return { verdict: { ...parsed, invalidItem: err.message, errorCount: 0, correctableCount: 0 }, persons: [] };
  }
}

export function packPersons(persons: ImportPerson[]): PackedPersons {
  const batches: string[] = [];
  let batch: string[] = [];
  let chars = 0;
  for (const person of persons) {
    const json = JSON.stringify(person);
    batch.push(json);
    chars += json.length;
    if (batch.length === PERSONS_PER_BATCH || chars >= BATCH_CHARS) {
      batches.push(`[${batch.join(',')}]`);
      batch = [];
      chars = 0;
    }
  }
  if (batch.length) batches.push(`[${batch.join(',')}]`);
  return { batches, count: persons.length };
}

/** The batches of packed persons, parsed one at a time. */
export function* unpackPersons(packed: PackedPersons): Generator<ImportPerson[]> {
  for (const batch of packed.batches) yield JSON.parse(batch) as ImportPerson[];
}
