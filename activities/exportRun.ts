import type { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { ConstantContactError, terminalActivityStates, type ActivityStatus } from '../constant-contact/types';
import type { ChunkState, RunChunk } from '../store/runs';
import type { RunError } from '../store/types';
import type {
  FinalizeInput,
  FinalizeResult,
  PlanRunInput,
  PollImportsInput,
  PollImportsResult,
  RecordPhaseInput,
  RunTarget,
  SnapshotInput,
  SnapshotResult,
  UploadChunkInput,
  UploadChunkResult,
  UploadCursor,
} from './contracts';
import { classified, runFailure } from './failures';
import { heartbeating } from './heartbeat';
import { cutChunk, type CutChunk, type SnapshotReader } from './chunks';
import { waitingReader } from './snapshot-wait';
import { mapProfile, toImportContact } from './contacts';
import { SnapshotTooLargeError } from '../store/snapshots';
import type { Mapping, RunPlan } from '../store/types';
import type { LedgerKey } from '../store/ledger';
import { mappingDigest } from './delivery-hash';
import { planOf } from './plan';
import type { ActivityDeps } from './index';
import type { Store } from '../store';
import { runEnded } from '../services/events';

/**
 * The export run's activities: the side effects of workflows/exportRun.ts. Each takes and answers
 * ids, cursors and counts; profile data goes from the store to Constant Contact inside them and
 * never into Temporal. One Constant Contact call per activity, so that retries and the rate limit
 * stay exact.
 *
 * Failures leave as ApplicationFailure with `type` = a snake_case code: non-retryable for what a
 * retry cannot fix (the run fails with that code), retryable with Constant Contact's delay when it
 * gave one.
 */

/** Heartbeats while `fn` runs; a Constant Contact error leaves as its activity failure. */
const step = <T>(fn: (ctx: Context | undefined) => Promise<T>): Promise<T> => heartbeating((ctx) => classified(() => fn(ctx)));

function throwIfCancelled(ctx: Context | undefined): void {
  if (ctx?.cancellationSignal.aborted) throw new CancelledFailure('the run was cancelled');
}

const mb = (bytes: number) => Math.round(bytes / 1048576);

/** Activities read per status poll: the newest, which hold a run's pending imports. */
const ACTIVITIES_PAGE = 500;

/** Snapshot rows read per query when cutting chunks. */
const MAX_PAGE_ROWS = 1000;
/**
 * Snapshot rows one chunk covers at most: a run of unchanged contacts still moves on in steps. Large,
 * because every chunk with a contact to send is one import: an incremental run of 1M profiles whose
 * 1% changed posts one import, not ten.
 */
const MAX_CHUNK_ROWS = 1_000_000;

const terminalChunkStates: readonly ChunkState[] = ['empty', 'completed', 'failed', 'cancelled', 'timed_out'];

export function createExportRunActivities(deps: ActivityDeps) {
  const { store, constantContact: cc, config, logger, clock } = deps;
  const snapshots: SnapshotReader & Pick<Store['snapshots'], 'create' | 'drop'> = store.snapshots;
  const limits = (listId: string, mapping: Mapping, fullResync?: boolean) => ({
    listId,
    mapping,
    maxRows: MAX_CHUNK_ROWS,
    // Without `fullResync` (the chunk estimate) contacts are not classified: every one counts.
    ...(fullResync === undefined ? {} : { ledger: { mappingDigest: mappingDigest(mapping), fullResync } }),
    maxContacts: config.constantContact.maxContactsPerImport,
    maxBytes: config.constantContact.maxImportBytes,
    // Pages of at most 1,000 rows: the objects of a page die young (cheap garbage collection, a
    // smaller heap), a page is a short slice of the event loop (the client's request pacing stays
    // on time), and a chunk wastes at most one page of reading where it is cut.
    pageSize: Math.max(1, Math.min(config.exports.snapshotPageSize, config.constantContact.maxContactsPerImport, MAX_PAGE_ROWS)),
  });

  /**
   * The next chunk, cut ahead while this one is posted (the cut is CPU work, the post waits on
   * Constant Contact). Only a cache: the next upload uses it when it runs in this process with the
   * same cursor, and cuts again otherwise (the cut is deterministic). Nothing is recorded ahead.
   */
  const ahead = new Map<string, { cursor: string; at: number; cut: Promise<CutChunk | undefined> }>();
  const aheadKey = (runId: string, chunkNo: number) => `${runId}:${chunkNo}`;
  const cursorKey = (input: UploadChunkInput) => JSON.stringify([input.cursor, input.exportId, input.listId, input.mapping, input.fullResync]);
  /** Snapshot rows with what the ledger and the list read say of each (classifies the contacts). */
  // The snapshot may still be being written: pages wait for their rows (activities/snapshot-wait.ts).
  const ledgerReader = (key: LedgerKey, onWait?: () => void): SnapshotReader =>
    waitingReader({ readPage: (runId, afterSeq, limit) => store.ledger.readPage(runId, key, afterSeq, limit) }, store.snapshots, onWait);
  const cutFrom = (input: UploadChunkInput, options?: Parameters<typeof cutChunk>[4]) =>
    cutChunk(ledgerReader(input, options?.onPage), input.runId, input.cursor, limits(input.listId, input.mapping, input.fullResync), options);
  function cutAhead(input: UploadChunkInput): void {
    const now = Date.now();
    for (const [key, entry] of ahead) if (now - entry.at > 120_000 || ahead.size > 8) ahead.delete(key);
    const cut = cutFrom(input).catch(() => undefined);
    ahead.set(aheadKey(input.runId, input.chunkNo), { cursor: cursorKey(input), at: now, cut });
  }
  async function cutNow(input: UploadChunkInput, onPage: () => void): Promise<CutChunk> {
    const key = aheadKey(input.runId, input.chunkNo);
    const entry = ahead.get(key);
    ahead.delete(key);
    if (entry && entry.cursor === cursorKey(input)) {
      const cut = await entry.cut;
      if (cut) return cut;
    }
    return cutFrom(input, { onPage });
  }

  async function loadRun(runId: string) {
    const run = await store.runs.get(runId);
    if (!run) throw runFailure('run_not_found', `run ${runId} does not exist`);
    return run;
  }

  /** A workflow whose run record ended (recorded failed when its start seemed to fail) does nothing more. */
  async function loadRunningRun(runId: string) {
    const run = await loadRun(runId);
    if (run.status !== 'running') throw runFailure('run_not_running', `run ${runId} is ${run.status}: its workflow stops`);
    return run;
  }

  return {
    /** Step 1: the export, its connection, the list and the segment size, before anything is read or sent. */
    async validateRun({ runId }: { runId: string }): Promise<RunTarget> {
      return classified(async () => {
        const run = await loadRunningRun(runId);
        await store.runs.setPhase(runId, 'validating');
        const exp = await store.exports.get(run.exportId, { includeDeleted: true });
        if (!exp || exp.deletedAt) throw runFailure('export_not_found', `export ${run.exportId} was deleted`);
        if (!exp.connectionId) throw runFailure('export_detached', `export ${exp.id} has no connection`);
        const connection = await store.connections.get(exp.connectionId);
        if (!connection) throw runFailure('export_detached', `the connection of export ${exp.id} was deleted`);
        if (connection.status === 'needs-reauthorization') {
          throw runFailure('needs_reauthorization', `connection ${connection.id} needs a new Constant Contact authorization`);
        }
        if (connection.status !== 'connected') throw runFailure('connection_not_connected', `connection ${connection.id} is not authorized yet`);
        // The segment size is checked by the snapshot (step 2), which stops at maxProfiles + 1 rows,
        // before anything is uploaded: counting the union here as well would read it twice.
        try {
          await cc.getList(exp.connectionId, exp.listId);
        } catch (err) {
          if (err instanceof ConstantContactError && err.code === 'not_found') {
            throw runFailure('list_not_found', `the Constant Contact list ${exp.listId} does not exist`);
          }
          throw err;
        }
        // A changed list starts a fresh ledger: what was delivered to another list says nothing of this one.
        const key = { exportId: exp.id, listId: exp.listId };
        await store.ledger.forgetOtherLists(key);
        const ledgerKnowsList = await store.ledger.knowsList(key);
        logger.info({ runId, exportId: exp.id }, 'run validated');
        return {
          exportId: exp.id,
          exportName: exp.name,
          connectionId: exp.connectionId,
          listId: exp.listId,
          mapping: exp.mapping,
          syncMode: exp.syncMode,
          maxRemovalPercent: exp.maxRemovalPercent,
          segmentIds: exp.segmentIds,
          customFields: Object.keys(exp.mapping.customFields ?? {}).length,
          dryRun: run.dryRun,
          fullResync: run.fullResync,
          ledgerKnowsList,
        };
      });
    },

    /** Step 1b: every mapped custom field exists in the account (else Constant Contact drops the values silently). */
    async validateCustomFields({ runId, connectionId }: { runId: string; connectionId: string }): Promise<void> {
      return classified(async () => {
        const run = await loadRun(runId);
        const exp = await store.exports.get(run.exportId, { includeDeleted: true });
        const wanted = Object.keys(exp?.mapping.customFields ?? {});
        if (wanted.length === 0) return;
        const fields = await cc.listCustomFields(connectionId);
        const names = new Set(fields.map((f) => f.name));
        const missing = wanted.filter((n) => !names.has(n));
        if (missing.length > 0) {
          throw runFailure('custom_field_not_found', `custom field(s) ${missing.join(', ')} do not exist in the Constant Contact account`);
        }
      });
    },

    /** Step 2: the frozen copy of the segments' members (a run exports them as they were at its start), written in batches the uploads read at once. A retry goes on where an earlier attempt stopped. */
    async snapshotRun({ runId, segmentIds, mapping }: SnapshotInput): Promise<SnapshotResult> {
      return step(async (ctx) => {
        await loadRun(runId);
        await store.runs.setPhase(runId, 'snapshotting');
        let profiles: number;
        try {
          // Idempotent: a retry finds the rows an earlier attempt committed and keeps them.
          ({ profiles } = await snapshots.create(
            runId,
            { segmentIds, mapping, maxProfiles: config.exports.maxProfiles },
            {
              // The run shows its size while its uploads start on the first rows.
              onCounted: (segmentProfiles) => store.runs.setCounts(runId, { segmentProfiles }),
              onBatch: () => throwIfCancelled(ctx),
            },
          ));
        } catch (err) {
          if (err instanceof SnapshotTooLargeError) {
            throw runFailure('segment_too_large', `the export's segments hold more than ${config.exports.maxProfiles} profiles, the most an export takes`);
          }
          throw err;
        }
        const chunksEstimate = await estimateChunks(runId, profiles, mapping);
        await store.runs.setCounts(runId, { segmentProfiles: profiles });
        await store.runs.setChunksTotal(runId, chunksEstimate);
        logger.info({ runId, profiles, chunksEstimate }, 'snapshot taken');
        return { segmentProfiles: profiles, chunksEstimate };
      });
    },

    /**
     * Step 3: one chunk. Cuts it from the cursor, records it with its rejects before posting, then
     * posts one import. A retry finds the chunk recorded: it re-reads the same range, and posts only
     * if no import id was stored.
     */
    async uploadChunk(input: UploadChunkInput): Promise<UploadChunkResult> {
      return step(async (ctx) => {
        const { runId, chunkNo, connectionId } = input;
        await store.runs.setPhase(runId, 'uploading');
        const onPage = () => throwIfCancelled(ctx);
        let chunk = await store.runs.getChunk(runId, chunkNo);
        let body: string | undefined;
        let nextCursor: UploadChunkResult['nextCursor'];
        let done: boolean;
        if (!chunk) {
          const cut = await cutNow(input, onPage);
          if (cut.lastSeq < cut.firstSeq) {
            // Nothing left to cover (a run whose snapshot ended exactly at the previous chunk).
            return { chunkNo, contacts: 0, rejected: 0, duplicates: 0, posted: false, nextCursor: input.cursor, done: true };
          }
          chunk = await store.runs.saveChunk(
            {
              runId,
              chunkNo,
              firstSeq: cut.firstSeq,
              lastSeq: cut.lastSeq,
              contacts: cut.packed?.contacts ?? 0,
              bytes: cut.packed?.bytes ?? 0,
              rejected: cut.rejected,
              duplicates: cut.duplicates,
              state: cut.packed ? 'prepared' : 'empty',
              added: cut.added,
              updated: cut.updated,
              unchanged: cut.unchanged,
              suppressed: cut.suppressions.length,
            },
            cut.rejects,
            (tx) => store.ledger.recordChunk(tx, { runId, chunkNo, key: input, deliveries: cut.deliveries, suppressions: cut.suppressions, marks: cut.marks, now: clock().toISOString() }),
          );
          body = cut.packed?.body;
          nextCursor = cut.nextCursor;
          done = cut.done;
          if (!done) cutAhead({ ...input, chunkNo: chunkNo + 1, cursor: nextCursor });
        } else {
          // A retry: the same range again (deterministic), for the body and the cursor.
          const again = await cutFrom(input, { untilSeq: chunk.lastSeq, onPage });
          body = again.packed?.body;
          nextCursor = { afterSeq: chunk.lastSeq, lastAcceptedSeq: again.nextCursor.lastAcceptedSeq };
          done = (await waitingReader(snapshots, store.snapshots, onPage).readPage(runId, chunk.lastSeq, 1)).length === 0;
        }

        let posted = chunk.activityId !== null;
        if (chunk.contacts > 0 && !posted) {
          if (!body) throw new Error(`chunk ${chunkNo} of run ${runId} could not be rebuilt`);
          throwIfCancelled(ctx);
          await loadRunningRun(runId);
          const { activityId } = await cc.importContacts(connectionId, body);
          chunk = await store.runs.setChunkActivity(runId, chunkNo, activityId);
          posted = true;
        }
        logger.info({ runId, chunkNo, contacts: chunk.contacts, rejected: chunk.rejected, duplicates: chunk.duplicates, bytes: chunk.bytes }, 'chunk uploaded');
        if (logger.isLevelEnabled('debug')) {
          const m = process.memoryUsage();
          logger.debug({ runId, chunkNo, rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers) }, 'worker memory');
        }
        return { chunkNo, contacts: chunk.contacts, rejected: chunk.rejected, duplicates: chunk.duplicates, posted, nextCursor, done };
      });
    },

    /**
     * Step 4: one look at every pending import of the run: one list-activities request for all of
     * them, and a read of its own only for an import the list no longer shows. Each finished import
     * has its counts stored in its chunk row and, when it completed, its contacts enter the ledger.
     */
    async pollImports({ runId, connectionId, uploadsDone, exportId, listId }: PollImportsInput): Promise<PollImportsResult> {
      return step(async () => {
        const pending = (await store.runs.chunks(runId)).filter((c) => c.activityId && !terminalChunkStates.includes(c.state));
        if (pending.length > 0) {
          if (uploadsDone) await store.runs.setPhase(runId, 'waiting-for-import');
          const listed = new Map((await cc.listActivities(connectionId, { limit: ACTIVITIES_PAGE })).map((a) => [a.activityId, a]));
          for (const chunk of pending) {
            const status = listed.get(chunk.activityId!) ?? (await cc.getActivity(connectionId, chunk.activityId!));
            if (terminalActivityStates.includes(status.state)) await settle(chunk, status, { exportId, listId });
          }
        }
        return importsProgress(runId);
      });
    },

    /**
     * A dry run's step 3: classifies the whole snapshot exactly as the uploads would (the same
     * cut), posts nothing and writes nothing but the plan.
     */
    async planRun(input: PlanRunInput): Promise<RunPlan> {
      return step(async (ctx) => {
        const onPage = () => throwIfCancelled(ctx);
        const plan = await planOf(deps, input, (cursor: UploadCursor) =>
          cutFrom({ ...input, chunkNo: 0, cursor }, { onPage }),
        );
        await store.runs.setPlan(input.runId, plan);
        logger.info({ runId: input.runId, plan }, 'dry run planned');
        return plan;
      });
    },

    async recordPhase({ runId, phase }: RecordPhaseInput): Promise<void> {
      await store.runs.setPhase(runId, phase);
    },

    /** Step 6: the run's end. Idempotent: a finished run stays as it was. The snapshot goes; rejects stay. */
    async finalizeRun({ runId, status, error }: FinalizeInput): Promise<FinalizeResult> {
      const chunks = await store.runs.chunks(runId);
      const run = await store.runs.finish(runId, {
        status,
        error,
        finishedAt: clock().toISOString(),
        ...(status === 'succeeded' ? { chunksTotal: chunks.length } : {}),
      });
      if (!run) throw runFailure('run_not_found', `run ${runId} does not exist`);
      await runEnded(deps, run);
      await snapshots.drop(runId);
      await store.ledger.forgetRun(runId);
      logger.info({ runId, status: run.status, counts: run.counts, error: run.error?.code }, 'run finished');
      const endStatus = run.status === 'running' || run.status === 'skipped' ? status : run.status;
      return { runId, status: endStatus, counts: run.counts, error: run.error as RunError | null };
    },
  };

  /** Stores what Constant Contact said of a finished import; completed, its contacts become delivered. */
  async function settle(chunk: RunChunk, status: ActivityStatus, key: LedgerKey): Promise<void> {
    const { runId, chunkNo } = chunk;
    const unsubscribed = Math.min(chunk.contacts, status.cannotAddToListCount);
    const completed = status.state === 'completed';
    // An import that did not complete counts nothing as imported.
    const ccErrors = completed ? Math.min(chunk.contacts - unsubscribed, status.errorCount + status.correctableCount) : chunk.contacts - unsubscribed;
    const imported = completed ? chunk.contacts - unsubscribed - ccErrors : 0;
    await store.runs.finishChunk(runId, chunkNo, { state: status.state as ChunkState, imported, unsubscribed, ccErrors }, (tx) =>
      store.ledger.settleChunk(tx, { runId, chunkNo, key, completed, now: clock().toISOString() }),
    );
    logger.info({ runId, chunkNo, state: status.state, imported, unsubscribed, ccErrors }, 'import finished');
  }

  /** How far the run's imports are: chunks whose import ended, and those that did not complete. */
  async function importsProgress(runId: string): Promise<PollImportsResult> {
    const chunks = await store.runs.chunks(runId);
    const ended = chunks.filter((c) => c.activityId && terminalChunkStates.includes(c.state));
    return {
      posted: chunks.filter((c) => c.activityId).length,
      finished: ended.length,
      failed: ended.filter((c) => c.state !== 'completed').length,
    };
  }

  /** Chunks a run will need: profiles over what one import holds, by count and by the bytes of a sample. */
  async function estimateChunks(runId: string, profiles: number, mapping: Mapping): Promise<number> {
    if (profiles === 0) return 0;
    const sample = await snapshots.readPage(runId, -1, 1000);
    let bytes = 0;
    let contacts = 0;
    for (const row of sample) {
      const m = toImportContact(mapProfile(row.data, mapping), null);
      if (m.ok) {
        bytes += Buffer.byteLength(JSON.stringify(m.contact)) + 1;
        contacts++;
      }
    }
    const l = limits('00000000-0000-4000-8000-000000000000', mapping);
    const perChunkByBytes = contacts > 0 ? Math.floor((l.maxBytes - 100) / (bytes / contacts)) : l.maxContacts;
    return Math.max(1, Math.ceil(profiles / Math.max(1, Math.min(l.maxContacts, perChunkByBytes))));
  }
}

export type ExportRunActivities = ReturnType<typeof createExportRunActivities>;
