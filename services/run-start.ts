import type { WorkflowStartOptions } from '@temporalio/client';
import type { Config } from '../common/config';
import { newId } from '../common/ids';
import type { RunRecord } from '../store/runs';
import type { Export, RunError, RunOptions, RunTrigger } from '../store/types';
import { EXPORT_RUN_WORKFLOW_TYPE, exportRunWorkflowId, runSearchAttributes, type ExportRunStart } from './contracts';
import { nowOf, type RunsDeps } from './deps';
import { runEnded, runStarted } from './events';
import { repairStaleRun } from './run-repair';

/**
 * Starting export runs, for the API (POST /v1/exports/{id}/runs) and the schedules (a scheduled or
 * refresh start, which records a `skipped` run when a run is going already).
 *
 * A run starts as a row first (status running, phase validating): the partial unique index
 * `runs_one_running` lets one running run per export exist, whoever starts it. Then its workflow
 * starts with a readable id; if that fails, the row is marked failed.
 */

/** The options the run's workflow starts with: id, queue, search attributes, summary (no profile data). */
export function exportRunStartOptions(
  config: Config,
  exp: Pick<Export, 'id' | 'name' | 'listId' | 'connectionId' | 'segmentIds'>,
  run: { id: string; trigger: RunTrigger },
  profiles?: number,
): WorkflowStartOptions<(input: ExportRunStart) => Promise<unknown>> & { workflowId: string } {
  const workflowId = exportRunWorkflowId(exp.id, run.id);
  const size = profiles === undefined ? '' : `: ${exp.segmentIds.length > 1 ? 'up to ' : ''}${profiles.toLocaleString('en-US')} profiles`;
  return {
    workflowId,
    taskQueue: config.temporal.taskQueue,
    args: [{ runId: run.id, exportId: exp.id, trigger: run.trigger }],
    typedSearchAttributes: [
      { key: runSearchAttributes.exportId, value: exp.id },
      { key: runSearchAttributes.connectionId, value: exp.connectionId ?? '' },
      { key: runSearchAttributes.runTrigger, value: run.trigger },
      { key: runSearchAttributes.runStatus, value: 'running' },
    ],
    memo: { exportName: exp.name, exportId: exp.id, runId: run.id },
    // One workflow per run id, ever: a retried start finds it instead of running the run twice.
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    staticSummary: `Export "${oneLine(exp.name)}" → list ${exp.listId}${size} (${run.trigger})`,
    staticDetails: [
      `**Export** ${exp.id} ("${oneLine(exp.name)}")`,
      `**Run** ${run.id}, trigger ${run.trigger}`,
      `**Connection** ${exp.connectionId ?? '—'}`,
      `**Constant Contact list** ${exp.listId}`,
      `**Segments** ${exp.segmentIds.join(', ')}`,
    ].join('\n\n'),
  };
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').slice(0, 120);

/** How long starting the run's workflow may take before the run is recorded failed (start_failed). */
export const START_DEADLINE_MS = 8000;

export type StartRunOutcome =
  | { outcome: 'started'; run: RunRecord }
  | { outcome: 'refused'; code: 'run_in_progress'; message: string; runningRunId: string }
  | { outcome: 'refused'; code: 'export_not_found' | 'export_detached'; message: string };

/** Temporal did not take the run's workflow; the run row is marked failed (start_failed). */
export class RunStartError extends Error {
  constructor(
    readonly run: RunRecord,
    cause: unknown,
  ) {
    super(`the run ${run.id} could not be started in Temporal`, { cause });
    this.name = 'RunStartError';
  }
}

/**
 * Starts a run of an export: the run row, then its workflow. Refuses (without a row) when the export
 * is gone or detached, or when a run of it is going (`runningRunId`). Throws RunStartError when the
 * workflow could not be started (the row then ends `failed` with `start_failed`). A caller that may
 * retry passes the same `runId` every time: a retry then neither writes a second row nor starts a
 * second workflow.
 */
export async function startRun(deps: RunsDeps, input: { exportId: string; trigger: RunTrigger; runId?: string; options?: RunOptions }): Promise<StartRunOutcome> {
  const { store, config, temporal } = deps;
  const now = () => nowOf(deps);
  const exp = await store.exports.get(input.exportId);
  if (!exp || exp.deletedAt) return { outcome: 'refused', code: 'export_not_found', message: `export ${input.exportId} not found` };
  if (!exp.connectionId) {
    return { outcome: 'refused', code: 'export_detached', message: `export ${exp.id} has no connection: attach one before running it` };
  }
  const runId = input.runId ?? newId('run');
  const workflowId = exportRunWorkflowId(exp.id, runId);
  const insert = () => store.runs.createRunning({ id: runId, exportId: exp.id, trigger: input.trigger, workflowId, startedAt: now().toISOString(), options: input.options });
  let created = await insert();
  if (!created.created && created.runningRunId === runId) {
    // A retried start finds the row its earlier attempt wrote: it goes on with it (and starts its workflow if need be).
    created = { created: true, run: (await store.runs.get(runId))! };
  } else if (!created.created && (await repairStaleRun(deps, created.runningRunId))) {
    created = await insert();
  }
  if (!created.created) {
    return {
      outcome: 'refused',
      code: 'run_in_progress',
      message: `run ${created.runningRunId} of export ${exp.id} is in progress`,
      runningRunId: created.runningRunId,
    };
  }
  // For the summary only: the segments' member counts at their last refresh (no query over members here).
  let profiles: number | undefined;
  try {
    const segments = await Promise.all(exp.segmentIds.map((id) => store.segments.get(id)));
    if (segments.every((s) => s && s.memberCount !== null)) profiles = segments.reduce((n, s) => n + (s!.memberCount ?? 0), 0);
  } catch {
    profiles = undefined;
  }
  try {
    // A caller waits for this answer: when Temporal does not answer within seconds, say so.
    await temporal.withDeadline(Date.now() + START_DEADLINE_MS, () =>
      temporal.workflow.start(EXPORT_RUN_WORKFLOW_TYPE, exportRunStartOptions(config, exp, { id: runId, trigger: input.trigger }, profiles)),
    );
  } catch (err) {
    // The start may have reached Temporal even though its answer did not reach us.
    const startedAnyway = await temporal
      .withDeadline(Date.now() + 3000, () => temporal.workflow.getHandle(workflowId).describe())
      .then(() => true, () => false);
    if (!startedAnyway) {
      deps.logger?.error({ runId, exportId: exp.id, err: err instanceof Error ? err.message : String(err) }, 'could not start the run workflow');
      // If the workflow does start after all, it finds its run not running and stops before uploading.
      const failed = await store.runs.finish(runId, {
        status: 'failed',
        error: { code: 'start_failed', message: 'the run could not be started: Temporal did not accept its workflow' },
        finishedAt: now().toISOString(),
      });
      await runEnded(deps, failed);
      throw new RunStartError(failed ?? created.run, err);
    }
  }
  deps.logger?.info({ runId, exportId: exp.id, trigger: input.trigger, workflowId }, 'run started');
  await runStarted(deps, created.run);
  return { outcome: 'started', run: created.run };
}

/**
 * Records a run that did not start, e.g. a scheduled start while a run was going
 * (`{code: 'run_in_progress', message}`), with the id of the workflow that decided it, if any.
 * Recording the same `id` again leaves the first record as it is.
 */
export async function recordSkippedRun(
  deps: Pick<RunsDeps, 'store' | 'clock'>,
  input: { id?: string; exportId: string; trigger: RunTrigger; reason: RunError; workflowId?: string },
): Promise<RunRecord> {
  const now = nowOf(deps);
  return deps.store.runs.createSkipped(
    { id: input.id ?? newId('run'), exportId: input.exportId, trigger: input.trigger, workflowId: input.workflowId ?? '', startedAt: now.toISOString() },
    input.reason,
  );
}

