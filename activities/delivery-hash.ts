import { createHash } from 'node:crypto';
import type { Mapping } from '../store/types';

/**
 * What the ledger remembers of a delivered contact: a hash of exactly what was sent (the import
 * item's JSON) and of the mapping that produced it, so a mapping change re-sends everyone. MD5 is
 * a fingerprint here, not a protection: nothing secret is hashed and a collision only skips a send.
 */

/** The mapping's part of every hash of a run (computed once per run). */
export function mappingDigest(mapping: Mapping): string {
  const ordered = {
    email: mapping.email,
    firstName: mapping.firstName ?? null,
    lastName: mapping.lastName ?? null,
    customFields: Object.entries(mapping.customFields ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  };
  return createHash('md5').update(JSON.stringify(ordered)).digest('base64');
}

/** The hash of one import item as sent under a mapping. */
export function deliveryHash(digest: string, contactJson: string): string {
  return createHash('md5').update(digest).update(contactJson).digest('base64');
}
