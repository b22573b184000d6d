import type { ImportContact } from '../constant-contact/types';
import type { Mapping, RejectReason } from '../store/types';

/**
 * From a snapshot row's mapped attributes to one Constant Contact import item, with the checks
 * Constant Contact would otherwise only count (its documented field limits): an email is
 * required, at most 50 characters, well-formed; names at most 50 characters; custom field values
 * strings of at most 255 characters, at most 25 per contact. Pure code, unit-tested.
 */

export const MAX_EMAIL_LENGTH = 50;
export const MAX_NAME_LENGTH = 50;
export const MAX_CUSTOM_FIELD_LENGTH = 255;
export const MAX_CUSTOM_FIELDS_PER_CONTACT = 25;

/** A profile's values for the Constant Contact fields, read through the export's mapping. */
export interface MappedProfile {
  email?: unknown;
  firstName?: unknown;
  lastName?: unknown;
  /** Constant Contact custom field name → the profile's value. */
  customFields?: Record<string, unknown> | null;
}

/**
 * Reads a snapshot row's attributes (by profile attribute name, store/snapshots.ts) through the
 * export's mapping.
 */
export function mapProfile(attributes: Record<string, unknown>, mapping: Mapping): MappedProfile {
  const profile: MappedProfile = { email: attributes[mapping.email] };
  if (mapping.firstName) profile.firstName = attributes[mapping.firstName];
  if (mapping.lastName) profile.lastName = attributes[mapping.lastName];
  const custom = mapping.customFields;
  if (custom) {
    profile.customFields = {};
    for (const [field, attribute] of Object.entries(custom)) profile.customFields[field] = attributes[attribute];
  }
  return profile;
}

// Dot-atom local part, dotted host name with a 2+ letter TLD: what Constant Contact accepts in practice.
const EMAIL_RE =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

export type MappedContact =
  | { ok: true; contact: ImportContact; key: string }
  | { ok: false; reason: RejectReason; email: string | null };

const text = (v: unknown): string | undefined => {
  if (v === null || v === undefined) return undefined;
  const s = (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '').trim();
  return s === '' ? undefined : s;
};

/** Cuts a string to at most `max` UTF-16 units without splitting a surrogate pair. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return cut;
}

/** Trims what the snapshot's email key trims (space, tab, LF, CR), so keys match store/snapshots.ts. */
const trimEmail = (s: string) => s.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, '');

/** The case-insensitive identity of an email, as Constant Contact merges them (and as the snapshot orders them). */
export const emailKeyOf = (email: string): string => trimEmail(email).toLowerCase();

/**
 * Maps and validates one profile. `previousKey` is the key of the last contact accepted before it
 * (rows come ordered by email key, so a duplicate follows its first occurrence): the same key again
 * is a `duplicate_email`. Names longer than 50 characters are truncated, not rejected (a long name
 * is no reason to leave a person out); so are custom field values beyond 255.
 */
export function toImportContact(profile: MappedProfile, previousKey: string | null): MappedContact {
  const raw = profile.email;
  const email = typeof raw === 'string' ? trimEmail(raw) : typeof raw === 'number' ? String(raw) : '';
  if (email === '') return { ok: false, reason: 'missing_email', email: null };
  if (!EMAIL_RE.test(email)) return { ok: false, reason: 'invalid_email', email };
  if (email.length > MAX_EMAIL_LENGTH) return { ok: false, reason: 'email_too_long', email };
  const key = emailKeyOf(email);
  if (key === previousKey) return { ok: false, reason: 'duplicate_email', email };

  const contact: ImportContact = { email };
  const first = text(profile.firstName);
  if (first !== undefined) contact.first_name = truncate(first, MAX_NAME_LENGTH);
  const last = text(profile.lastName);
  if (last !== undefined) contact.last_name = truncate(last, MAX_NAME_LENGTH);
  if (profile.customFields) {
    let n = 0;
    for (const [name, raw] of Object.entries(profile.customFields)) {
      const value = text(raw);
      if (value === undefined) continue;
      if (++n > MAX_CUSTOM_FIELDS_PER_CONTACT) break;
      contact[`cf:${name}`] = truncate(value, MAX_CUSTOM_FIELD_LENGTH);
    }
  }
  return { ok: true, contact, key };
}
