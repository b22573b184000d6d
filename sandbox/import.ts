/**
 * The contacts_json_import request: the 4 MB truncation (the real service imports what fits and
 * drops the rest without a word) and the validation of import items. Item validation is hand-written (not zod) because
 * a benchmark sends 40,000 items a request.
 */

export const MAX_CUSTOM_FIELDS_PER_CONTACT = 25;
export const MAX_CUSTOM_FIELD_VALUE = 255;
export const MAX_EMAIL = 50;

/** Standard import item keys and their maximum length (0: validated separately). */
const FIELD_MAX: Record<string, number> = {
  first_name: 50,
  last_name: 50,
  job_title: 50,
  company_name: 50,
  phone: 50,
  home_phone: 50,
  work_phone: 50,
  mobile_phone: 50,
  street: 255,
  street2: 255,
  city: 50,
  state: 50,
  zip: 50,
  country: 50,
  birthday_month: 0,
  birthday_day: 0,
  anniversary: 0,
  sms_number: 50,
};

export type StoredFields = Record<string, string>;

export interface ImportPerson {
  /** Lowercased email: the account's contact key. */
  key: string;
  email: string;
  first_name?: string;
  last_name?: string;
  /** Other standard fields (job_title, phone, birthday_month, ...), only when present. */
  extra?: StoredFields;
  /** Custom field values by custom_field_id (fields unknown to the account are dropped). */
  cf?: StoredFields;
}

export interface ValidatedImport {
  itemsTotal: number;
  errorCount: number;
  correctableCount: number;
  /** Valid items, duplicates merged case-insensitively (in order of first appearance). */
  persons: ImportPerson[];
}

export class ImportRequestError extends Error {}

// A pragmatic address check: dot-atom local part, dotted host name with a 2+ letter TLD.
const EMAIL_RE =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

export function isValidEmail(email: string): boolean {
  return email.length <= 254 && EMAIL_RE.test(email);
}

function validMonth(v: string): boolean {
  return /^\d{1,2}$/.test(v) && Number(v) >= 1 && Number(v) <= 12;
}

function validDay(v: string): boolean {
  return /^\d{1,2}$/.test(v) && Number(v) >= 1 && Number(v) <= 31;
}

function validDate(v: string): boolean {
  let y: number, m: number, d: number;
  let match = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$/.exec(v);
  if (match) [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  else {
    match = /^(\d{1,2})[-/](\d{1,2})[-/](\d{4})$/.exec(v);
    if (!match) return false;
    [m, d, y] = [Number(match[1]), Number(match[2]), Number(match[3])];
  }
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/**
 * Validates the items. Structural problems (an item that is not an object, a value that is not a
 * string, an unknown key) reject the whole request (400); invalid rows are only counted, as the real
 * service does: error_count (too long, too many custom fields, SMS-only rows) or correctable_count
 * (invalid email format, bad dates, no email).
 */
export function validateImportItems(items: unknown[], customFieldIdByName: ReadonlyMap<string, string>): ValidatedImport {
  let errorCount = 0;
  let correctableCount = 0;
  const byKey = new Map<string, ImportPerson>();

  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      throw new ImportRequestError(`import_data[${i}] must be an object`);
    }
    let email: string | undefined;
    let first: string | undefined;
    let last: string | undefined;
    let extra: StoredFields | undefined;
    let cf: StoredFields | undefined;
    let cfKeys = 0;
    let error = false;
    let correctable = false;

    for (const key in item) {
      const raw = (item as Record<string, unknown>)[key];
      if (raw === null || raw === undefined) continue;
      if (key.startsWith('cf:')) {
        if (typeof raw !== 'string') throw new ImportRequestError(`import_data[${i}].${key} must be a string`);
        cfKeys++;
        if (raw.length > MAX_CUSTOM_FIELD_VALUE) error = true;
        const id = customFieldIdByName.get(key.slice(3));
        if (id !== undefined) (cf ??= {})[id] = raw;
        continue;
      }
      let value: string;
      if (typeof raw === 'string') value = raw;
      else if (typeof raw === 'number' && (key === 'birthday_month' || key === 'birthday_day')) value = String(raw);
      else if (key === 'email' || key in FIELD_MAX) throw new ImportRequestError(`import_data[${i}].${key} must be a string`);
      else throw new ImportRequestError(`import_data[${i}] has an unknown property "${key}"`);

      if (key === 'email') {
        email = value.trim();
        continue;
      }
      const max = FIELD_MAX[key];
      if (max === undefined) throw new ImportRequestError(`import_data[${i}] has an unknown property "${key}"`);
      if (max > 0 && value.length > max) error = true;
      if (key === 'birthday_month' && !validMonth(value)) correctable = true;
      if (key === 'birthday_day' && !validDay(value)) correctable = true;
      if (key === 'anniversary' && !validDate(value)) correctable = true;
      if (key === 'first_name') first = value;
      else if (key === 'last_name') last = value;
      else (extra ??= {})[key] = value;
    }

    if (cfKeys > MAX_CUSTOM_FIELDS_PER_CONTACT) error = true;
    if (email === undefined || email === '') {
      // The sandbox models email contacts only: an SMS-only row cannot be imported (error); a row
      // with neither email nor SMS number lacks minimal contact data (correctable).
      if (extra?.sms_number) error = true;
      else correctable = true;
    } else if (email.length > MAX_EMAIL) error = true;
    else if (!isValidEmail(email)) correctable = true;

    if (error) {
      errorCount++;
      continue;
    }
    if (correctable) {
      correctableCount++;
      continue;
    }
    const lower = email!.toLowerCase();
    const key = lower === email ? email! : lower;
    const seen = byKey.get(key);
    if (!seen) {
      const person: ImportPerson = { key, email: email! };
      if (first !== undefined) person.first_name = first;
      if (last !== undefined) person.last_name = last;
      if (extra) person.extra = extra;
      if (cf) person.cf = cf;
      byKey.set(key, person);
    } else {
      // Duplicates inside one request merge: later values win, field by field.
      if (first !== undefined) seen.first_name = first;
      if (last !== undefined) seen.last_name = last;
      if (extra) seen.extra = { ...seen.extra, ...extra };
      if (cf) seen.cf = { ...seen.cf, ...cf };
    }
  }
  return { itemsTotal: items.length, errorCount, correctableCount, persons: [...byKey.values()] };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const IMPORT_DATA = Buffer.from('import_data');

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/**
 * For a syntactically valid JSON body, the byte offset (exclusive) at which each element of the
 * top-level "import_data" array ends. Used to keep only the items that fit entirely inside the first
 * maxImportBytes of a larger body. Returns [] when there is no such array.
 */
export function importItemEndOffsets(body: Buffer): number[] {
  const ends: number[] = [];
  let depth = 0;
  let inString = false;
  let stringStart = -1;
  let lastString: [number, number] | null = null; // a string that ended at depth 1
  let key: [number, number] | null = null; // the key whose value comes next at depth 1
  let inTarget = false; // inside import_data (its elements are at depth 2)
  let lastNonSpace = -1;
  let itemHasContent = false;

  for (let i = 0; i < body.length; i++) {
    const b = body[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) {
        inString = false;
        if (depth === 1) lastString = [stringStart, i];
        lastNonSpace = i;
      }
      continue;
    }
    if (isSpace(b)) continue;
    if (b === QUOTE) {
      inString = true;
      stringStart = i + 1;
      if (inTarget && depth === 2) itemHasContent = true;
      continue;
    }
    if (b === 0x7b || b === 0x5b) {
      // { or [
      if (inTarget && depth === 2) itemHasContent = true;
      if (depth === 1 && b === 0x5b && key && body.subarray(key[0], key[1]).equals(IMPORT_DATA)) {
        inTarget = true;
        itemHasContent = false;
      }
      depth++;
      lastNonSpace = i;
      continue;
    }
    if (b === 0x7d || b === 0x5d) {
      // } or ]
      if (inTarget && depth === 2) {
        if (itemHasContent) ends.push(lastNonSpace + 1);
        inTarget = false;
        depth--;
        return ends;
      }
      depth--;
      lastNonSpace = i;
      continue;
    }
    if (depth === 1) {
      if (b === COLON) key = lastString;
      else if (b === COMMA) {
        key = null;
        lastString = null;
      }
    } else if (inTarget && depth === 2) {
      if (b === COMMA) {
        ends.push(lastNonSpace + 1);
        itemHasContent = false;
        continue;
      }
      itemHasContent = true;
    }
    lastNonSpace = i;
  }
  return ends;
}

/** How many leading import_data items fit entirely inside the first maxBytes of the body. */
export function itemsFittingIn(body: Buffer, maxBytes: number): number {
  const ends = importItemEndOffsets(body);
  let n = 0;
  while (n < ends.length && ends[n] <= maxBytes) n++;
  return n;
}
