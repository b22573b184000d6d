import type { RunsDeps } from './deps';
import { nowOf } from './deps';
import { repairStaleRun } from './run-repair';

/**
 * The run reconciler: a run's workflow ends its run record itself, except where it cannot — it was
 * terminated (from the Temporal UI or CLI, e.g. to end a workflow task that kept failing), it timed
 * out, or it could not record its end. Every worker runs this loop; it finds running run records
 * whose workflow is closed and ends them through the one repair (services/run-repair.ts), with the
 * same end hooks as a workflow's own end (events, webhooks, alerts, metrics).
 *
 * Each worker checks on a timer; the store hands each due turn to one of them (`claimDueJob`), so N
 * workers describe each running run once per interval, not N times.
 */

export const RUN_RECONCILE_JOB = 'run-reconcile';

/** One turn: when due, ends every running run whose workflow is closed. Answers how many it ended (undefined: not due). */
export async function reconcileRuns(deps: RunsDeps, intervalMs: number): Promise<number | undefined> {
  // A little under the interval: a timer that fires a few milliseconds early still finds the turn due.
  if (!(await deps.store.personalData.claimDueJob(RUN_RECONCILE_JOB, intervalMs * 0.9, nowOf(deps).getTime()))) return undefined;
  let ended = 0;
  for (const run of await deps.store.runs.allRunning()) {
    if (await repairStaleRun(deps, run.id)) ended++;
  }
  if (ended > 0) deps.logger?.info({ ended }, 'runs whose workflow had closed were ended');
  return ended;
}

/** Runs a turn every `intervalMs` (RUN_RECONCILE_INTERVAL_SECONDS) until stopped; a failed turn is logged and tried again. */
export function startRunReconciler(deps: RunsDeps, intervalMs: number): { stop(): void } {
  let running = false;
  const turn = async () => {
    if (running) return;
    running = true;
    try {
      await reconcileRuns(deps, intervalMs);
    } catch (err) {
      deps.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'run reconciliation did not run; trying again later');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void turn(), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
