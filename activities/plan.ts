import type { PlanRunInput, UploadCursor } from './contracts';
import type { CutChunk } from './chunks';
import type { ActivityDeps } from './index';
import { MirrorRepository } from '../store/mirror';
import type { RunPlan } from '../store/types';
import { REMOVAL_BATCH_SIZE, TARGETED_READS_MAX } from './mirror-limits';

/**
 * A dry run's plan: the whole snapshot cut into chunks exactly as the uploads would cut it (so the
 * counts are the real run's), mirror mode's removals from the same list read, and the Constant
 * Contact requests the real run would spend after the reads this run made already. Reads only.
 */
export async function planOf(deps: ActivityDeps, input: PlanRunInput, cut: (cursor: UploadCursor) => Promise<CutChunk>): Promise<RunPlan> {
  const totals = { toAdd: 0, toUpdate: 0, unchanged: 0, suppressed: 0, rejected: 0, duplicates: 0, imports: 0 };
  let cursor: UploadCursor = { afterSeq: -1, lastAcceptedSeq: null };
  for (;;) {
    const c = await cut(cursor);
    if (c.lastSeq < c.firstSeq) break;
    totals.toAdd += c.added;
    totals.toUpdate += c.updated;
    totals.unchanged += c.unchanged;
    totals.suppressed += c.suppressions.length;
    totals.rejected += c.rejected;
    totals.duplicates += c.duplicates;
    if (c.packed) totals.imports++;
    cursor = c.nextCursor;
    if (c.done) break;
  }
  const removals = input.syncMode === 'mirror' ? await removalsOf(deps, input) : { toRemove: 0, needsApproval: false, requests: 0 };
  // One status read per import at most (a poll reads every pending import of the run at once).
  const statusReads = totals.imports;
  const { imports, ...counts } = totals;
  return {
    ...counts,
    suppressedByReason: { left_list: totals.suppressed },
    toRemove: removals.toRemove,
    needsApproval: removals.needsApproval,
    requests: { imports, statusReads, removals: removals.requests, total: imports + statusReads + removals.requests },
    dailyQuotaLeft: await dailyQuotaLeft(deps),
  };
}

/** Members the list read found that are not in the snapshot, the guard's verdict, and the calls to remove them. */
async function removalsOf(deps: ActivityDeps, input: PlanRunInput): Promise<{ toRemove: number; needsApproval: boolean; requests: number }> {
  const mirror = new MirrorRepository(deps.store.db);
  const [toRemove, listMembers] = await Promise.all([mirror.countMembersNotInSnapshot(input.runId), mirror.countListMembers(input.runId)]);
  if (toRemove === 0) return { toRemove, needsApproval: false, requests: 0 };
  const batches = Math.ceil(toRemove / REMOVAL_BATCH_SIZE);
  // Contact ids: a targeted read each for a few, else the list's pages (the list read names no ids).
  const idReads = toRemove <= TARGETED_READS_MAX ? toRemove : Math.ceil(listMembers / REMOVAL_BATCH_SIZE);
  return {
    toRemove,
    needsApproval: toRemove > (Math.max(0, input.maxRemovalPercent) / 100) * listMembers,
    requests: idReads + 2 * batches,
  };
}

async function dailyQuotaLeft(deps: ActivityDeps): Promise<number | null> {
  const { clientId, ratePerDay } = deps.config.constantContact;
  if (!clientId) return null;
  return Math.max(0, ratePerDay - (await deps.store.rateLimits.usedToday(clientId, Date.now())));
}
