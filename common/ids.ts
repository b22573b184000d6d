import { createHash, randomBytes } from 'node:crypto';

export type IdPrefix = 'seg' | 'con' | 'exp' | 'run' | 'req' | 'whk' | 'evt' | 'dlv' | 'aud';

const timePart = (ms: number) => ms.toString(36).padStart(9, '0');

/** Opaque ids with a type prefix: `seg_…`, `con_…`, `exp_…`, `run_…`. Sortable by creation time. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${timePart(Date.now())}${randomBytes(8).toString('hex')}`;
}

/**
 * An id of the same form, the same every time for the same `key` and time: what a retried step
 * records under, so that it finds what an earlier attempt recorded instead of writing it again.
 */
export function derivedId(prefix: IdPrefix, timeMs: number, key: string): string {
  return `${prefix}_${timePart(timeMs)}${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

/** The whole-string pattern of an id with this prefix (what newId makes, and older ids too). */
export const idPattern = (prefix: IdPrefix): RegExp => new RegExp(`^${prefix}_[0-9a-z]{9,40}$`);
