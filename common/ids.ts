import { randomBytes } from 'node:crypto';

export type IdPrefix = 'seg' | 'con' | 'exp' | 'run' | 'req' | 'whk' | 'evt' | 'dlv' | 'aud';

/** Opaque ids with a type prefix: `seg_…`, `con_…`, `exp_…`, `run_…`. Sortable by creation time. */
export function newId(prefix: IdPrefix): string {
  const time = Date.now().toString(36).padStart(9, '0');
  return `${prefix}_${time}${randomBytes(8).toString('hex')}`;
}

/** The whole-string pattern of an id with this prefix (what newId makes, and older ids too). */
export const idPattern = (prefix: IdPrefix): RegExp => new RegExp(`^${prefix}_[0-9a-z]{9,40}$`);
