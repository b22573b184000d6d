/**
 * The export run: validate → snapshot → upload chunks ∥ poll their imports → (mirror) → finalize.
 *
 * Deterministic code only. It passes ids, cursors and counts; the activities read and write the
 * profile data in the store. Counts live in the store (chunk rows), so the workflow only steers.
 */
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  condition,
  continueAsNew,
  executeChild,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FinalizeResult, RunTarget, SnapshotResult, UploadCursor } from '../activities/contracts';
import { runSearchAttributes, type ExportRunStart } from '../services/contracts';
import type { RunError, RunPhase } from '../store/types';
import { mirrorRemovals as removeMembersWhoLeft, removalsWorkflowId } from './mirrorRemovals';
import { withQuotaWait } from './quota';
import { readListMembers } from './list-read';
import { withRetry } from './retry-policies';
import { runErrorOf } from './run-failures';

/** Where a run is, carried across continue-as-new. */
export interface ExportRunProgress {
  target: RunTarget;
  segmentProfiles: number;
  chunksEstimate: number;
  /** Next chunk to upload and where it starts; `uploadsDone` when the snapshot is used up. */
  nextChunkNo: number;
  cursor: UploadCursor;
  uploadsDone: boolean;
  /** Imports posted (chunks with contacts) and imports that reached a terminal state. */
  importsPosted: number;
  importsFinished: number;
  /** After the imports: mirror mode's removals, then finalizing. */
  stage: 'transfer' | 'after-imports';
  /** Imports that ended failed, cancelled or timed out. */
  failedImports: number;
}

export interface ExportRunInput extends ExportRunStart {
  /** Present after continue-as-new: where the previous execution stopped. */
  resume?: ExportRunProgress;
  /** Chunks uploaded per workflow execution before it continues as new (default 50). */
  chunksPerExecution?: number;
}

export type ExportRunResult = FinalizeResult;

// Every call takes the retry policy of its kind from the one table (./retry-policies).
const storeCalls = proxyActivities<Activities>(withRetry('store', { startToCloseTimeout: '1 minute' }));
const quick = proxyActivities<Activities>(withRetry('constantContactRead', { startToCloseTimeout: '1 minute' }));
// A cancelled run waits for its snapshot to be written before it drops it (no rows left behind).
const snapshotting = proxyActivities<Activities>(
  withRetry('longWait', {
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '2 minutes',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  }),
);
// Uploads and polls heartbeat: a worker killed mid-call is noticed within seconds, and a
// cancelled run stops an upload before it posts. The cancellation type is explicit: left unset,
// SDK 1.24 sends TRY_CANCEL (the proto default), and the run would be finalized `cancelled` while
// an upload still posts. Uploads are writes; their polls ride along with the same policy.
const transfer = proxyActivities<Activities>(
  withRetry('constantContactWrite', {
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '5 seconds',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  }),
);

const DEFAULT_CHUNKS_PER_EXECUTION = 50;
/** Uploads start on the snapshot's first rows (runs before it: once the snapshot was taken). */
const PIPELINED_SNAPSHOT = 'pipelined-snapshot';
const POLL_FIRST_DELAY_MS = 1000;
/** While uploads go on, polls are this far apart (runs before 'paced-polls': as after the uploads). */
const POLL_WHILE_UPLOADING_MS = 5000;
const PACED_POLLS = 'paced-polls';
const POLL_MAX_DELAY_MS = 10_000;
/** Continue as new before the history grows past this, whatever the server suggests. */
const MAX_HISTORY_EVENTS = 5000;

const fmt = (n: number) => n.toLocaleString('en-US');

export async function exportRun(input: ExportRunInput): Promise<ExportRunResult> {
  const { runId } = input;
  let phase: RunPhase = 'validating';

  /** Runs a step; when Constant Contact's daily quota is spent, waits in phase waiting-for-quota until it resets. */
  function withQuota<T>(step: () => Promise<T>): Promise<T> {
    let before = phase;
    return withQuotaWait(step, {
      waiting: () => {
        before = phase;
        return enterPhase('waiting-for-quota');
      },
      resumed: () => enterPhase(before),
    });
  }

  async function enterPhase(next: RunPhase): Promise<void> {
    phase = next;
    await storeCalls.recordPhase.executeWithOptions({ summary: `phase ${next}` }, [{ runId, phase: next }]);
  }

  let outcome: { progress: ExportRunProgress; continueAsNew: boolean };
  try {
    outcome = await run(input, withQuota, (p) => (phase = p));
  } catch (err) {
    if (isCancellation(err)) {
      await endRun(runId, 'cancelled', { code: 'cancelled', message: 'the run was cancelled' });
      throw err;
    }
    const error = runErrorOf(err);
    if (!error) throw err; // a bug in this code: the workflow task fails and is retried once fixed
    await endRun(runId, 'failed', error);
    throw ApplicationFailure.create({ type: error.code, message: error.message, nonRetryable: true });
  }
  if (outcome.continueAsNew) {
    return continueAsNew<typeof exportRun>({ ...input, resume: outcome.progress });
  }
  const failedImports = outcome.progress.failedImports;
  if (failedImports > 0) {
    const error = { code: 'import_failed', message: `${failedImports} import(s) ended failed, cancelled or timed out in Constant Contact` };
    await endRun(runId, 'failed', error);
    throw ApplicationFailure.create({ type: error.code, message: error.message, nonRetryable: true });
  }
  return finalize(runId, 'succeeded', null);
}

/**
 * Records a run's failed or cancelled end, even while the workflow is being cancelled. When even
 * that cannot be recorded (the store is down past its retries), the workflow still ends with the
 * run's code, and the worker's reconciler (services/run-reconcile.ts) records it from there.
 */
async function endRun(runId: string, status: 'failed' | 'cancelled', error: RunError): Promise<void> {
  await CancellationScope.nonCancellable(() => finalize(runId, status, error)).catch(() => undefined);
}

async function finalize(runId: string, status: ExportRunResult['status'], error: RunError | null): Promise<ExportRunResult> {
  setCurrentDetails(`Finalizing: ${status}`);
  const result = await storeCalls.finalizeRun.executeWithOptions({ summary: `finalize: ${status}` }, [{ runId, status, error }]);
  upsertSearchAttributes([{ key: runSearchAttributes.runStatus, value: status }]);
  setCurrentDetails(`Run ${status}${error ? `: ${error.code}` : ''}. Sent ${fmt(result.counts.sent)}, imported ${fmt(result.counts.imported)}, rejected ${fmt(result.counts.rejected)}, duplicates ${fmt(result.counts.duplicates)}.`);
  return result;
}

/** The steps. Answers where it stopped: at the end, or at a point to continue as new from. */
async function run(
  input: ExportRunInput,
  withQuota: <T>(step: () => Promise<T>) => Promise<T>,
  setPhase: (p: RunPhase) => void,
): Promise<{ progress: ExportRunProgress; continueAsNew: boolean }> {
  const { runId } = input;
  let progress: ExportRunProgress;
  /** A fresh run's list read and snapshot, started with its uploads (absent: both done before them). */
  let first: (() => { uploadsMayStart: Promise<unknown>; done: Promise<unknown> }) | undefined;

  if (input.resume) {
    progress = { ...input.resume, cursor: { ...input.resume.cursor } };
  } else {
    // 1. Validate: the export, its connection, the list, the mapped custom fields, the segment size.
    setPhase('validating');
    setCurrentDetails('Validating the export, its connection and the target list');
    const target: RunTarget = await withQuota(() => quick.validateRun.executeWithOptions({ summary: 'validate export, connection and list' }, [{ runId }]));
    if (target.customFields > 0) {
      await withQuota(() => quick.validateCustomFields.executeWithOptions({ summary: `check ${target.customFields} custom field(s)` }, [{ runId, connectionId: target.connectionId }]));
    }

    // 2. The list's members as Constant Contact has them now, and the segments' members as they are
    // now (the run exports exactly these), side by side: one waits on Constant Contact, the other on the store.
    setPhase('snapshotting');
    setCurrentDetails(`Reading list ${target.listId} and snapshotting ${target.segmentIds.length} segment(s)`);
    const readList = () => readListMembers({ runId, connectionId: target.connectionId, listId: target.listId }, withQuota);
    const takeSnapshot = () =>
      snapshotting.snapshotRun.executeWithOptions({ summary: `snapshot ${target.segmentIds.length} segment(s)` }, [{ runId, segmentIds: target.segmentIds, mapping: target.mapping }]);
    progress = {
      target,
      segmentProfiles: 0,
      chunksEstimate: 0,
      nextChunkNo: 1,
      cursor: { afterSeq: -1, lastAcceptedSeq: null },
      uploadsDone: false,
      importsPosted: 0,
      importsFinished: 0,
      stage: 'transfer',
      failedImports: 0,
    };
    const took = (snapshot: SnapshotResult) => {
      progress.segmentProfiles = snapshot.segmentProfiles;
      progress.chunksEstimate = snapshot.chunksEstimate;
    };
    if (!target.dryRun && patched(PIPELINED_SNAPSHOT)) {
      // 3 starts on the snapshot's first rows, inside the transfer's scope (below). The list read
      // classifies contacts the ledger knows and plans mirror removals: when the ledger knows no
      // contact of the list, every contact is new, the uploads do not wait for it, and an upsert
      // run does not read the list at all.
      const ledgerEmpty = target.ledgerKnowsList === false;
      first = () => {
        const listRead = ledgerEmpty && target.syncMode === 'upsert' ? Promise.resolve() : readList();
        const snapshot = takeSnapshot().then(took);
        return { uploadsMayStart: ledgerEmpty ? Promise.resolve() : listRead, done: Promise.all([listRead, snapshot]) };
      };
    } else {
      const [, snapshot] = await Promise.all([readList(), takeSnapshot()]);
      took(snapshot);
      progress.uploadsDone = snapshot.segmentProfiles === 0;
    }
    if (target.dryRun) {
      // A dry run stops at the plan: it posts nothing and changes no ledger row.
      setCurrentDetails('Dry run: classifying every contact against the ledger and the list');
      await quick.planRun.executeWithOptions({ startToCloseTimeout: '30 minutes', heartbeatTimeout: '2 minutes', summary: 'dry run: plan' }, [
        {
          runId,
          connectionId: target.connectionId,
          exportId: target.exportId,
          listId: target.listId,
          mapping: target.mapping,
          fullResync: target.fullResync,
          syncMode: target.syncMode,
          maxRemovalPercent: target.maxRemovalPercent,
        },
      ]);
      setPhase('finalizing');
      return { progress, continueAsNew: false };
    }
  }

  const { target } = progress;
  const budget = input.chunksPerExecution ?? DEFAULT_CHUNKS_PER_EXECUTION;

  // 3 and 4. Upload chunks one after another; poll each posted import until Constant Contact
  // finishes it, alongside the uploads (both share the per-key rate limit inside the client).
  if (progress.stage === 'transfer') {
    setPhase('uploading');
    let uploadedThisExecution = 0;
    let stopping = false;
    const chunksLabel = () => `${Math.max(progress.chunksEstimate, progress.nextChunkNo - 1)}`;

    const uploads = async (mayStart?: Promise<unknown>) => {
      await mayStart;
      while (!progress.uploadsDone) {
        if (stopping || uploadedThisExecution >= budget || workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS) {
          stopping = true;
          return;
        }
        const chunkNo = progress.nextChunkNo;
        setCurrentDetails(`Uploading chunk ${chunkNo}/${chunksLabel()} (${fmt(progress.segmentProfiles)} profiles in the snapshot); imports finished: ${progress.importsFinished}`);
        const result = await withQuota(() =>
          transfer.uploadChunk.executeWithOptions({ summary: `upload chunk ${chunkNo}/${chunksLabel()} from snapshot row ${fmt(progress.cursor.afterSeq + 1)} of ${fmt(progress.segmentProfiles)}` }, [
            {
              runId,
              chunkNo,
              cursor: progress.cursor,
              connectionId: target.connectionId,
              exportId: target.exportId,
              listId: target.listId,
              mapping: target.mapping,
              fullResync: target.fullResync,
            },
          ]),
        );
        progress.cursor = result.nextCursor;
        progress.nextChunkNo = chunkNo + 1;
        if (result.posted) progress.importsPosted++;
        progress.uploadsDone = result.done;
        uploadedThisExecution++;
      }
    };

    const polls = async () => {
      const paced = patched(PACED_POLLS);
      let delay = POLL_FIRST_DELAY_MS;
      for (;;) {
        if (progress.importsFinished >= progress.importsPosted) {
          if (progress.uploadsDone || stopping) return;
          await condition(() => progress.importsPosted > progress.importsFinished || progress.uploadsDone || stopping);
          continue;
        }
        if (paced && !progress.uploadsDone && !stopping) {
          // While chunks are still uploaded, a poll only shows progress (a run's imports are settled
          // by the polls after its last upload): one every POLL_WHILE_UPLOADING_MS leaves Constant
          // Contact's request budget to the uploads. The last upload ends the wait.
          await condition(() => progress.uploadsDone || stopping, POLL_WHILE_UPLOADING_MS);
        }
        const pending = progress.importsPosted - progress.importsFinished;
        // One status read for every pending import of the run.
        const polled = await withQuota(() =>
          transfer.pollImports.executeWithOptions({ summary: `read the status of ${pending} pending import(s)` }, [
            { runId, connectionId: target.connectionId, uploadsDone: progress.uploadsDone, exportId: target.exportId, listId: target.listId },
          ]),
        );
        const progressed = polled.finished > progress.importsFinished;
        progress.importsFinished = polled.finished;
        progress.failedImports = polled.failed;
        if (progress.importsFinished >= progress.importsPosted) continue;
        if (stopping) return;
        if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS) {
          stopping = true;
          return;
        }
        if (paced && !progress.uploadsDone) continue;
        if (progress.uploadsDone) {
          setPhase('waiting-for-import');
          setCurrentDetails(`Waiting for Constant Contact to finish ${progress.importsPosted - progress.importsFinished} of ${progress.importsPosted} import(s)`);
        }
        delay = progressed ? POLL_FIRST_DELAY_MS : Math.min(delay * 2, POLL_MAX_DELAY_MS);
        await sleep(delay, { summary: `${progress.importsPosted - progress.importsFinished} import(s) pending` });
      }
    };

    // One scope for both loops: when one fails, the other is cancelled (an upload not yet posted is
    // not posted). Both are awaited to the end, so nothing is still uploading when the run is finalized.
    const scope = new CancellationScope();
    await scope.run(async () => {
      const stopOther = (err: unknown) => {
        scope.cancel();
        throw err;
      };
      // The list read and the snapshot of a fresh run go on beside the uploads; the scope ends (and
      // the run may continue as new) only once both are done.
      const started = first?.();
      const steps = [uploads(started?.uploadsMayStart), polls(), ...(started ? [started.done] : [])];
      const settled = await Promise.allSettled(steps.map((step) => step.catch(stopOther)));
      const errors = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      // A real failure says more than the cancellation it caused in the other loop.
      const error = errors.find((e) => !isCancellation(e)) ?? errors[0];
      if (error !== undefined) throw error;
    });

    if (!progress.uploadsDone || progress.importsFinished < progress.importsPosted) {
      return { progress, continueAsNew: true };
    }
    progress.stage = 'after-imports';
  }

  // 5. Mirror mode: remove from the list the members who are not in the snapshot.
  if (target.syncMode === 'mirror') {
    await mirrorRemovals(input, progress, setPhase);
  }

  setPhase('finalizing');
  return { progress, continueAsNew: false };
}

/**
 * Mirror mode: after every import finished, before finalizing. It may wait in phase
 * `awaiting-approval` and records `counts.removed` / `counts.plannedRemovals` through activities.
 */
async function mirrorRemovals(input: ExportRunInput, progress: ExportRunProgress, setPhase: (p: RunPhase) => void): Promise<void> {
  // The child workflow (workflows/mirrorRemovals.ts) reads the list, applies the guard, removes and
  // counts; it handles the daily quota itself. Its failures reach the run as their typed codes.
  setPhase('removing');
  const { target } = progress;
  try {
    await executeChild(removeMembersWhoLeft, {
      workflowId: removalsWorkflowId(workflowInfo().workflowId),
      args: [{ runId: input.runId, connectionId: target.connectionId, listId: target.listId }],
      staticSummary: `Mirror: remove from list ${target.listId} the members who are not in the run's snapshot`,
    });
  } catch (err) {
    if (err instanceof ChildWorkflowFailure && err.cause instanceof ApplicationFailure) throw err.cause;
    throw err;
  }
}
