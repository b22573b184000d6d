import { randomBytes } from 'node:crypto';
import { cutChunk, type ChunkCursor } from '../activities/chunks';
import type { Config } from '../common/config';
import { ConstantContactError, terminalActivityStates, type ConstantContactApi } from '../constant-contact/types';
import type { Store } from '../store';
import type { Export } from '../store/types';

/**
 * The same export as the workflow, by a plain script without Temporal: the same reads (snapshot,
 * pages of it), the same mapping, validation and packing (activities/chunks.ts), the same requests
 * through the same Constant Contact client and its shared rate limit, uploads and polls side by side
 * as the workflow does them, a 429 or 5xx retried as any script would. What it leaves out is what
 * makes a run durable: no run or chunk records, no rejects, no workflow, no resuming after a crash;
 * and what makes it consent-safe and incremental: it neither reads the list first nor classifies
 * contacts against the delivery ledger (it sends everyone, as a first run does). The bench compares
 * the two: the difference includes the list read.
 */

export interface PlainExportResult {
  seconds: number;
  phases: Record<string, number>;
  imports: number;
  contacts: number;
  rejected: number;
  duplicates: number;
  imported: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What any script does with a 429 or a 5xx: wait (Constant Contact's delay when it gave one) and try again. */
async function retrying<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof ConstantContactError) || !err.retryable || err.code === 'daily_quota_exhausted' || attempt >= 8) throw err;
      await sleep(err.retryAfterMs ?? Math.min(1000 * 2 ** (attempt - 1), 30_000));
    }
  }
}

export async function plainExport(deps: { store: Store; constantContact: ConstantContactApi; config: Config }, exp: Export): Promise<PlainExportResult> {
  const { store, constantContact: cc, config } = deps;
  const connectionId = exp.connectionId!;
  const runId = `run_plain${randomBytes(8).toString('hex')}`;
  const phases: Record<string, number> = {};
  const started = Date.now();
  let mark = started;
  const phase = (name: string) => {
    const now = Date.now();
    phases[name] = (now - mark) / 1000;
    mark = now;
  };

  await retrying(() => cc.getList(connectionId, exp.listId));
  phase('validate');
  const { profiles } = await store.snapshots.create(runId, { segmentIds: exp.segmentIds, mapping: exp.mapping, maxProfiles: config.exports.maxProfiles });
  phase('snapshot');

  const limits = {
    listId: exp.listId,
    mapping: exp.mapping,
    maxContacts: config.constantContact.maxContactsPerImport,
    maxBytes: config.constantContact.maxImportBytes,
    pageSize: Math.max(1, Math.min(config.exports.snapshotPageSize, config.constantContact.maxContactsPerImport)),
  };
  const activities: string[] = [];
  let uploadsDone = profiles === 0;
  let contacts = 0;
  let rejected = 0;
  let duplicates = 0;
  let imported = 0;
  let wake: (() => void) | undefined;

  const uploads = async () => {
    let cursor: ChunkCursor = { afterSeq: -1, lastAcceptedSeq: null };
    while (!uploadsDone) {
      const cut = await cutChunk(store.snapshots, runId, cursor, limits);
      if (cut.packed) {
        const body = cut.packed.body;
        const { activityId } = await retrying(() => cc.importContacts(connectionId, body));
        activities.push(activityId);
        contacts += cut.packed.contacts;
        wake?.();
      }
      rejected += cut.rejected;
      duplicates += cut.duplicates;
      cursor = cut.nextCursor;
      uploadsDone = cut.done || cut.lastSeq < cut.firstSeq;
    }
    wake?.();
    phases.uploadsEndAt = (Date.now() - started) / 1000;
  };

  const polls = async () => {
    let next = 0;
    let delay = 1000;
    for (;;) {
      if (next >= activities.length) {
        if (uploadsDone) return;
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      const activityId = activities[next];
      const status = await retrying(() => cc.getActivity(connectionId, activityId));
      if (terminalActivityStates.includes(status.state)) {
        imported += status.state === 'completed' ? status.itemsTotal - status.errorCount - status.correctableCount - status.cannotAddToListCount : 0;
        next++;
        delay = 1000;
        continue;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 10_000);
    }
  };

  await Promise.all([uploads(), polls()]);
  phase('transfer');
  // Done: every import finished and counted (as a run is done when its status says so). Dropping
  // the snapshot comes after, outside the time, as the run's finalize drops it after its status.
  const seconds = (Date.now() - started) / 1000;
  await store.snapshots.drop(runId);
  phase('cleanup (not timed)');
  return { seconds, phases, imports: activities.length, contacts, rejected, duplicates, imported };
}
