import { WorkflowFailedError, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { RunRecord } from '../store/runs';
import type { RunError } from '../store/types';
import { nowOf, type RunsDeps } from './deps';
import { runEnded } from './events';

/** Ending runs whose workflow is gone, and cancelling runs. */

/**
 * A run row says running but its workflow is not (never started because the process died between
 * the insert and the start; terminated by an operator; timed out; failed or cancelled without
 * recording the end): ends the row with a code saying why, through the same end hooks as a
 * workflow's own end, so the export can run again. Answers true when it ended the row. Called when
 * the export is next started, and periodically by every worker (services/run-reconcile.ts).
 */
export async function repairStaleRun(deps: RunsDeps, runId: string, graceMs = 60_000): Promise<boolean> {
  const run = await deps.store.runs.get(runId);
  if (!run || run.status !== 'running') return run !== undefined;
  const now = nowOf(deps);
  let error: RunError;
  let status: 'failed' | 'cancelled' = 'failed';
  try {
    const handle = deps.temporal.workflow.getHandle(run.workflowId);
    const description = await handle.describe();
    switch (description.status.name) {
      case 'RUNNING':
      case 'CONTINUED_AS_NEW':
      case 'PAUSED':
      case 'UNSPECIFIED':
      case 'UNKNOWN':
        return false;
      case 'CANCELLED':
        status = 'cancelled';
        error = { code: 'cancelled', message: 'the run was cancelled' };
        break;
      case 'TERMINATED':
        error = { code: 'workflow_terminated', message: 'the run workflow was terminated before it could finish the run' };
        break;
      case 'TIMED_OUT':
        error = { code: 'workflow_timed_out', message: 'the run workflow timed out before it could finish the run' };
        break;
      case 'FAILED':
        error = await failureOf(handle);
        break;
      default:
        error = { code: 'workflow_ended', message: `the run workflow ended (${description.status.name.toLowerCase()}) without finishing the run` };
    }
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) return false; // Temporal does not answer: assume it runs
    if (now.getTime() - Date.parse(run.startedAt) < graceMs) return false; // it may be starting right now
    error = { code: 'workflow_not_started', message: 'the run workflow was never started (the process starting it stopped)' };
  }
  await runEnded(deps, await deps.store.runs.finish(run.id, { status, error, finishedAt: now.toISOString() }));
  deps.logger?.warn({ runId: run.id, code: error.code }, 'ended a stale running run');
  return true;
}

/** The run error a failed workflow ended with: its typed failure's code, else `workflow_failed`. */
async function failureOf(handle: WorkflowHandle): Promise<RunError> {
  const err: unknown = await handle.result().then(() => undefined, (e: unknown) => e);
  for (let cause: unknown = err instanceof WorkflowFailedError ? err.cause : undefined; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof ApplicationFailure && cause.type) return { code: cause.type, message: cause.message || 'the run workflow failed' };
  }
  return { code: 'workflow_failed', message: `the run workflow failed before it could finish the run${err instanceof Error ? `: ${err.message}` : ''}` };
}

export type CancelRunOutcome = { outcome: 'cancelling' | 'cancelled'; run: RunRecord } | { outcome: 'not_running'; run: RunRecord };

/** Asks the run's workflow to cancel (it stops uploading and ends the run `cancelled`). */
export async function cancelRun(deps: RunsDeps, run: RunRecord): Promise<CancelRunOutcome> {
  if (run.status !== 'running') return { outcome: 'not_running', run };
  try {
    await deps.temporal.workflow.getHandle(run.workflowId).cancel();
    deps.logger?.info({ runId: run.id }, 'run cancellation requested');
    return { outcome: 'cancelling', run: (await deps.store.runs.get(run.id)) ?? run };
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
    const now = nowOf(deps);
    const ended = await deps.store.runs.finish(run.id, { status: 'cancelled', error: { code: 'cancelled', message: 'the run was cancelled' }, finishedAt: now.toISOString() });
    await runEnded(deps, ended);
    return { outcome: 'cancelled', run: ended ?? run };
  }
}
