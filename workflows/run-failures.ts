import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, TerminatedFailure, TimeoutFailure } from '@temporalio/workflow';
import type { RunError } from '../store/types';

/**
 * The run error (code and message) a failure ends a run with. Every Temporal failure has one:
 * a typed failure its type, an activity that could not complete `activity_failed`, a child
 * workflow that was terminated, timed out or failed `<child>_terminated`, `<child>_timed_out`,
 * `<child>_failed` (`removals_…` for mirror mode's removals). Anything else is a bug in the
 * workflow code: undefined, and the workflow task fails until the code is fixed.
 */
export function runErrorOf(err: unknown): RunError | undefined {
  if (err instanceof ChildWorkflowFailure) return childRunError(err);
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    return { code: cause.type ?? 'run_failed', message: cause.message || 'the run failed' };
  }
  if (err instanceof ActivityFailure) {
    // A timeout or another failure without a type: the activity could not complete.
    return { code: 'activity_failed', message: `step ${err.activityType} could not complete: ${cause instanceof Error ? cause.message : err.message}` };
  }
  return undefined;
}

/** The prefix of a child workflow's codes, by workflow type. */
const CHILD_CODE_PREFIX: Readonly<Record<string, string>> = { mirrorRemovals: 'removals' };

function childRunError(err: ChildWorkflowFailure): RunError {
  const prefix = CHILD_CODE_PREFIX[err.workflowType] ?? 'child_workflow';
  const child = `the ${err.workflowType} workflow ${err.execution.workflowId}`;
  const cause = err.cause;
  if (cause instanceof ApplicationFailure) return { code: cause.type ?? `${prefix}_failed`, message: cause.message || `${child} failed` };
  if (cause instanceof TerminatedFailure) return { code: `${prefix}_terminated`, message: `${child} was terminated` };
  if (cause instanceof TimeoutFailure) return { code: `${prefix}_timed_out`, message: `${child} timed out` };
  const inner = runErrorOf(cause);
  return { code: `${prefix}_failed`, message: `${child} failed${inner ? `: ${inner.message}` : ''}` };
}
