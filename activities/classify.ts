import type { LedgerState } from '../store/ledger';

/**
 * What a run does with a valid contact of its snapshot, from the ledger and the list as read at
 * the start of the run. Constant Contact's subscriber preferences win: a contact we delivered who
 * is no longer on the list, and whom we did not remove, left by themself and is not sent again
 * (an import naming the list would put them back). Someone who joins the list again is on it at
 * the next read and is treated as any other contact.
 */
export type Verdict = 'new' | 'changed' | 'unchanged' | 'left';

export interface LedgerView {
  delivered: { hash: string; state: LedgerState } | null;
  onList: boolean;
}

export function classify(row: LedgerView, hash: string, fullResync: boolean): Verdict {
  const d = row.delivered;
  if (!d || d.state === 'removed-by-us') return 'new';
  if (!row.onList) return 'left';
  if (!fullResync && d.hash === hash) return 'unchanged';
  return 'changed';
}
