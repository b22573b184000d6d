import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  defineQuery,
  defineUpdate,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { MirrorActivities, PlanRemovalsResult } from '../activities/mirror';
import type { RemovalDecision } from '../store/mirror';
import { withQuotaWait } from './quota';
import { withRetry } from './retry-policies';

/**
 * Mirror mode, after the uploads of an export run: the list's members that are not in the run's
 * snapshot leave the list (removed from the list only, never deleted).
 *
 *   plan the removals from the list read the run made before its uploads (counts.plannedRemovals)
 *   → the guard: more than maxRemovalPercent of the list's members → phase awaiting-approval,
 *     a durable wait for the `decideRemovals` update, with a timeout
 *   → find the contact ids of those to remove (the ledger, targeted reads or the list's pages)
 *   → remove in batches of <= 500 contact ids, one remove-list-memberships call per activity
 *   → poll each removal to its end and count counts.removed.
 *
 * Started by the export run as a child workflow with id `removalsWorkflowId(run.workflowId)`.
 * Its input, result and history carry ids and counts only: contact ids and emails stay in the store.
 */

export interface MirrorRemovalsInput {
  runId: string;
  connectionId: string;
  listId: string;
  /** The guard's limit; default: the export's maxRemovalPercent (itself 20 by default). */
  maxRemovalPercent?: number;
  /** How long to wait for approval; default REMOVAL_APPROVAL_TIMEOUT_SECONDS of the worker's configuration. */
  approvalTimeoutMs?: number;
  /** Set when an execution continues as new in the middle of removing. */
  resume?: MirrorRemovalsResume;
  /** Removal steps (posts and checks of batches) per workflow execution before it continues as new (default: by history size). */
  stepsPerExecution?: number;
}

export interface MirrorRemovalsResume {
  plan: PlanRemovalsResult;
  decision: RemovalDecision;
  /** Batches before this one were posted. */
  nextBatch: number;
  /** Batches before this one reached a terminal state. */
  nextCheck: number;
}

export interface MirrorRemovalsResult {
  listMembers: number;
  plannedRemovals: number;
  removed: number;
  removalErrors: number;
  /** `not-needed`: within maxRemovalPercent (or nobody to remove); removals went ahead without approval. */
  decision: RemovalDecision;
}

export type RemovalsStage = 'reading-list' | 'planning' | 'awaiting-approval' | 'removing' | 'done';

export interface RemovalsState {
  stage: RemovalsStage;
  listMembers: number | null;
  plannedRemovals: number | null;
  decision: RemovalDecision | null;
  /** ISO time the wait for approval ends, while awaiting approval. */
  approvalDeadline: string | null;
  batchesPosted: number;
  batchesDone: number;
  batches: number;
}

export interface RemovalDecisionRequest {
  decision: 'approve' | 'reject';
}

export interface RemovalDecisionAnswer {
  decision: RemovalDecision;
}

/** An admin's decision on removals held by the guard; rejected (validator) unless the run awaits approval. */
export const decideRemovalsUpdate = defineUpdate<RemovalDecisionAnswer, [RemovalDecisionRequest]>('decideRemovals');
export const removalsStateQuery = defineQuery<RemovalsState>('removalsState');

/** The child workflow id of a run's removals, from the run's workflow id. */
export function removalsWorkflowId(runWorkflowId: string): string {
  return `${runWorkflowId}-removals`;
}

/** Failure type of a removal decision that came too late or too early. */
export const NOT_AWAITING_APPROVAL = 'run_not_awaiting_approval';

// Every call takes the retry policy of its kind from the one table (./retry-policies).
const storeCalls = proxyActivities<MirrorActivities>(withRetry('store', { startToCloseTimeout: '1 minute' }));
const ccReads = proxyActivities<MirrorActivities>(withRetry('constantContactRead', { startToCloseTimeout: '3 minutes' }));
const ccWrites = proxyActivities<MirrorActivities>(withRetry('constantContactWrite', { startToCloseTimeout: '3 minutes' }));
const calls = {
  planRemovals: storeCalls.planRemovals,
  setRemovalsPhase: storeCalls.setRemovalsPhase,
  recordRemovalDecision: storeCalls.recordRemovalDecision,
  removeBatch: ccWrites.removeBatch,
  checkRemovalBatch: ccReads.checkRemovalBatch,
  finishRemovals: storeCalls.finishRemovals,
};
// Finding contact ids may page a whole list: Constant Contact reads, only long.
const reads = proxyActivities<MirrorActivities>(withRetry('constantContactRead', { startToCloseTimeout: '60 minutes', heartbeatTimeout: '2 minutes' }));

/** Removals posted at once (each is still paced by the shared rate limiter). */
const POST_WINDOW = 4;
/** Continue as new well before history grows large (ids and counts only, but many events). */
const MAX_HISTORY_EVENTS = 8000;

export async function mirrorRemovals(input: MirrorRemovalsInput): Promise<MirrorRemovalsResult> {
  const state: RemovalsState = {
    stage: input.resume ? 'removing' : 'reading-list',
    listMembers: input.resume?.plan.listMembers ?? null,
    plannedRemovals: input.resume?.plan.plannedRemovals ?? null,
    decision: input.resume?.decision ?? null,
    approvalDeadline: null,
    batchesPosted: input.resume?.nextBatch ?? 0,
    batchesDone: input.resume?.nextCheck ?? 0,
    batches: input.resume?.plan.batches ?? 0,
  };
  let requested: RemovalDecisionRequest['decision'] | undefined;
  /** Removal steps taken in this execution (for stepsPerExecution). */
  let steps = 0;

  const awaiting = () => state.stage === 'awaiting-approval' && requested === undefined;
  setHandler(removalsStateQuery, () => state);
  setHandler(
    decideRemovalsUpdate,
    (req) => {
      requested = req.decision;
      return { decision: req.decision === 'approve' ? 'approved' : 'rejected' };
    },
    {
      validator: (req) => {
        if (req?.decision !== 'approve' && req?.decision !== 'reject') throw new Error('decision must be approve or reject');
        if (!awaiting()) {
          throw ApplicationFailure.nonRetryable(`the run is not awaiting approval of removals (stage ${state.stage})`, NOT_AWAITING_APPROVAL);
        }
      },
    },
  );

  try {
    return await run();
  } catch (err) {
    if (err instanceof ContinueAsNew) throw err;
    // Cancelled (the run was cancelled) or failed: the copy of the list is not kept.
    await CancellationScope.nonCancellable(() => calls.finishRemovals({ runId: input.runId })).catch(() => undefined);
    // The export run reads the cause's type: it crosses as the same typed code.
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
      throw ApplicationFailure.create({ message: err.cause.message, type: err.cause.type ?? 'removals_failed', nonRetryable: true, cause: err });
    }
    throw err;
  }

  async function run(): Promise<MirrorRemovalsResult> {
    const { runId, connectionId, listId } = input;
    let plan: PlanRemovalsResult;
    let decision: RemovalDecision;
    let nextBatch = 0;
    let nextCheck = 0;

    if (input.resume) {
      ({ plan, decision, nextBatch, nextCheck } = input.resume);
    } else {
      // The export run read the list's members before its uploads (workflows/list-read.ts).
      state.stage = 'planning';
      plan = await quota(() =>
        calls.planRemovals({ runId, maxRemovalPercent: input.maxRemovalPercent, approvalTimeoutMs: input.approvalTimeoutMs }),
      );
      state.listMembers = plan.listMembers;
      state.plannedRemovals = plan.plannedRemovals;
      state.batches = plan.batches;
      decision = plan.needsApproval ? await awaitApproval(plan) : 'not-needed';
      ({ decision } = await calls.recordRemovalDecision({ runId, decision }));
      state.decision = decision;
      if (decision === 'rejected' || decision === 'timed-out') {
        setCurrentDetails(`Removals ${decision}: nobody leaves the list`);
        return finish();
      }
      // The list read names no contact ids: find those of the contacts to remove.
      const { batches } = await quota(() =>
        reads.resolveRemovalIds.executeWithOptions({ summary: `find the contact ids of ${plan.plannedRemovals} contact(s) to remove` }, [{ runId, connectionId, listId }]),
      );
      plan = { ...plan, batches };
      state.batches = batches;
    }

    state.stage = 'removing';
    const pct = plan.listMembers ? Math.round((plan.plannedRemovals / plan.listMembers) * 1000) / 10 : 0;
    setCurrentDetails(`Removing ${plan.plannedRemovals} of ${plan.listMembers} list members (${pct}%) in ${plan.batches} batches`);

    // Post every batch (a few at a time), then wait for each to end and count it.
    while (nextBatch < plan.batches) {
      const window: number[] = [];
      for (let b = nextBatch; b < Math.min(plan.batches, nextBatch + POST_WINDOW); b++) window.push(b);
      await Promise.all(
        window.map((batchNo) =>
          quota(() =>
            calls.removeBatch.executeWithOptions(
              { startToCloseTimeout: '3 minutes', summary: `remove batch ${batchNo + 1}/${plan.batches} from the list` },
              [{ runId, connectionId, listId, batchNo }],
            ),
          ),
        ),
      );
      nextBatch += window.length;
      state.batchesPosted = nextBatch;
      steps += window.length;
      if (historyFull()) await continueAsNew<typeof mirrorRemovals>({ ...input, resume: { plan, decision, nextBatch, nextCheck } });
    }
    let delay = 500;
    while (nextCheck < plan.batches) {
      const r = await quota(() =>
        calls.checkRemovalBatch.executeWithOptions(
          { startToCloseTimeout: '3 minutes', summary: `check removal batch ${nextCheck + 1}/${plan.batches}` },
          [{ runId, connectionId, batchNo: nextCheck }],
        ),
      );
      if (r.done) {
        nextCheck++;
        state.batchesDone = nextCheck;
        delay = 500;
        steps++;
        if (historyFull() && nextCheck < plan.batches) await continueAsNew<typeof mirrorRemovals>({ ...input, resume: { plan, decision, nextBatch, nextCheck } });
      } else {
        await sleep(delay);
        delay = Math.min(delay * 2, 10_000);
      }
    }
    return finish();

    async function finish(): Promise<MirrorRemovalsResult> {
      const r = await calls.finishRemovals({ runId });
      state.stage = 'done';
      return { listMembers: r.listMembers, plannedRemovals: r.plannedRemovals, removed: r.removed, removalErrors: r.removalErrors, decision };
    }
  }

  async function awaitApproval(plan: PlanRemovalsResult): Promise<RemovalDecision> {
    const { runId } = input;
    // Decisions are taken from here on: the run shows the phase only after this (an activity), so an
    // admin who sees it never finds the workflow not yet waiting.
    state.stage = 'awaiting-approval';
    state.approvalDeadline = new Date(Date.now() + plan.approvalTimeoutMs).toISOString();
    await calls.setRemovalsPhase({ runId, phase: 'awaiting-approval' });
    const pct = plan.listMembers ? Math.round((plan.plannedRemovals / plan.listMembers) * 1000) / 10 : 100;
    setCurrentDetails(
      `Awaiting approval: ${plan.plannedRemovals} of ${plan.listMembers} list members (${pct}%) would leave the list, ` +
        `over the limit of ${plan.maxRemovalPercent}%. POST /v1/runs/${runId}/removals {"decision":"approve"|"reject"} ` +
        `before ${state.approvalDeadline}.`,
    );
    const decided = await condition(() => requested !== undefined, plan.approvalTimeoutMs);
    state.approvalDeadline = null;
    state.stage = 'planning';
    if (!decided) return 'timed-out';
    return requested === 'approve' ? 'approved' : 'rejected';
  }

  /** Runs an activity; when the daily quota is spent, waits in phase waiting-for-quota until it resets. */
  function quota<T>(fn: () => Promise<T>): Promise<T> {
    return withQuotaWait(fn, {
      waiting: () => calls.setRemovalsPhase({ runId: input.runId, phase: 'waiting-for-quota' }),
      resumed: () => calls.setRemovalsPhase({ runId: input.runId, phase: state.stage === 'awaiting-approval' ? 'awaiting-approval' : 'removing' }),
    });
  }

  function historyFull(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS || steps >= (input.stepsPerExecution ?? Infinity);
  }
}
