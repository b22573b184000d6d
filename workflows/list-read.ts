import { log, patched, proxyActivities, sleep } from '@temporalio/workflow';
import type { MirrorActivities } from '../activities/mirror';
import { withRetry } from './retry-policies';

/**
 * Reads a list's current members into the store before a run classifies its contacts: a contact
 * export (a handful of calls for any size), else pages of 500. Constant Contact is the source of
 * truth for who is on the list; the run reads it first so it never re-adds someone who left.
 */

const ccWrites = proxyActivities<MirrorActivities>(withRetry('constantContactWrite', { startToCloseTimeout: '3 minutes' }));
const ccReads = proxyActivities<MirrorActivities>(withRetry('constantContactRead', { startToCloseTimeout: '3 minutes' }));
const calls = { startListRead: ccWrites.startListRead, checkListExport: ccReads.checkListExport, readListPage: ccReads.readListPage };
// Loading the export's file is a Constant Contact read (a 429 is retried after its delay), only long.
const reads = proxyActivities<MirrorActivities>(withRetry('constantContactRead', { startToCloseTimeout: '60 minutes', heartbeatTimeout: '2 minutes' }));

/** The patch that made the first export check immediate (see the README's versioning rule). */
const LIST_READ_CHECKS_AT_ONCE = 'list-read-checks-at-once';

export interface ListReadTarget {
  runId: string;
  connectionId: string;
  listId: string;
}

/** Runs an activity, waiting out a spent daily quota (the caller's phase handling). */
export type QuotaWait = <T>(step: () => Promise<T>) => Promise<T>;

export async function readListMembers(target: ListReadTarget, quota: QuotaWait): Promise<void> {
  const { exportActivityId } = await quota(() => calls.startListRead.executeWithOptions({ summary: `read list ${target.listId}: start a contact export` }, [target]));
  if (exportActivityId) {
    let delay = 500;
    // Runs started before this patch slept 0.5 s before their first check; they replay that way.
    // Newer ones check at once: a small export is often done by then.
    if (!patched(LIST_READ_CHECKS_AT_ONCE)) {
      await sleep(delay);
      delay *= 2;
    }
    let resultsHref: string | null | undefined;
    for (;;) {
      const s = await quota(() => calls.checkListExport({ connectionId: target.connectionId, exportActivityId }));
      resultsHref = s.resultsHref;
      if (s.terminal) break;
      await sleep(delay);
      delay = Math.min(delay * 2, 15_000);
    }
    const loaded = await quota(() =>
      reads.loadListExport.executeWithOptions({ summary: 'load the list\'s members from the contact export' }, [{ ...target, exportActivityId, resultsHref }]),
    );
    if (loaded.loaded) return;
  }
  let next: string | null = null;
  let pages = 0;
  do {
    const page: { next: string | null } = await quota(() =>
      calls.readListPage.executeWithOptions({ summary: `read list members page ${pages + 1}` }, [{ ...target, next }]),
    );
    next = page.next;
    pages++;
    if (pages % 100 === 0) log.warn('list read by pages is long', { pages });
  } while (next);
}
