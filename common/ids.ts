import { randomBytes } from 'node:crypto';

export type IdPrefix = 'seg' | 'con' | 'exp' | 'run' | 'req';

/** Opaque ids with a type prefix (api.md): `seg_…`, `con_…`, `exp_…`, `run_…`. Sortable by creation time. */
export function newId(prefix: IdPrefix): string {
  const time = Date.now().toString(36).padStart(9, '0');
  return `${prefix}_${time}${randomBytes(8).toString('hex')}`;
}

export function hasPrefix(id: string, prefix: IdPrefix): boolean {
  return /^[a-z]{3}_[0-9a-z]{9,40}$/.test(id) && id.startsWith(`${prefix}_`);
}

export const nowIso = (clock: () => Date = () => new Date()) => clock().toISOString();
