import { WorkflowNotFoundError, type Client, type WorkflowStartOptions } from '@temporalio/client';
import type { Config } from './config';
import type { Logger } from './logger';
import { newId } from './ids';
import type { Store } from '../store';
import type { RunRecord } from '../store/runs';
import type { Export, RunCounts, RunError, RunPhase, RunStatus, RunTrigger } from '../store/types';
import {
  EXPORT_RUN_WORKFLOW_TYPE,
  exportRunWorkflowId,
  runSearchAttributes,
  type ExportRunInput,
} from '../workflows/contracts';

/**
 * Starting, cancelling and presenting export runs: shared by the API (POST /v1/exports/{id}/runs)
 * and the schedules (a scheduled or refresh start reuses `startRun`, and records `recordSkippedRun`
 * when a run is going already).
 *
 * A run starts as a row first (status running, phase validating): the partial unique index
 * `runs_one_running` lets one running run per export exist, whoever starts it (invariant 5). Then its
 * workflow starts with a readable id; if that fails, the row is marked failed.
 */

export { exportRunWorkflowId } from '../workflows/contracts';

export interface RunsDeps {
  config: Config;
  store: Store;
  temporal: Client;
  logger?: Logger;
  clock?: () => Date;
}

/** A run as the API answers it (api.md `Run`). */
export interface RunJson {
  id: string;
  exportId: string;
  status: RunStatus;
  trigger: RunTrigger;
  startedAt: string;
  finishedAt: string | null;
  workflowId: string;
  temporalUiUrl: string;
  progress: { phase: RunPhase; chunksDone: number; chunksTotal: number; percent: number };
  counts: RunCounts;
  error: RunError | null;
}

/** Where the Temporal Web UI shows a workflow. */
export function temporalUiUrl(temporal: Config['temporal'], workflowId: string): string {
  return `${temporal.uiUrl}/namespaces/${encodeURIComponent(temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** The Temporal Web UI's list of an export's runs (search attribute ExportId). */
export function exportRunsUiUrl(temporal: Config['temporal'], exportId: string): string {
  return `${temporal.uiUrl}/namespaces/${encodeURIComponent(temporal.namespace)}/workflows?query=${encodeURIComponent(`ExportId="${exportId}"`)}`;
}

/**
 * Progress as a percentage: each chunk counts twice (uploaded, then its import finished); the
 * snapshot and the end take a little. 100 only for a run that finished its work.
 */
export function runPercent(run: RunRecord): number {
  if (run.status === 'succeeded') return 100;
  switch (run.phase) {
    case 'validating':
      return 0;
    case 'snapshotting':
      return 1;
    case 'finalizing':
      return 99;
    default: {
      const total = Math.max(1, run.chunksTotal, run.chunksUploaded);
      const steps = Math.min(run.chunksUploaded, total) + Math.min(run.chunksDone, total);
      return Math.min(98, 2 + Math.floor((96 * steps) / (2 * total)));
    }
  }
}

export function runJson(run: RunRecord, temporal: Config['temporal']): RunJson {
  return {
    id: run.id,
    exportId: run.exportId,
    status: run.status,
    trigger: run.trigger,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    workflowId: run.workflowId,
    // A skipped run that no workflow decided has no workflow: the export's runs in the UI instead.
    temporalUiUrl: run.workflowId ? temporalUiUrl(temporal, run.workflowId) : exportRunsUiUrl(temporal, run.exportId),
    progress: { phase: run.phase, chunksDone: run.chunksDone, chunksTotal: run.chunksTotal, percent: runPercent(run) },
    counts: run.counts,
    error: run.error,
  };
}

/** The options the run's workflow starts with: id, queue, search attributes, summary (no profile data). */
export function exportRunStartOptions(
  config: Config,
  exp: Pick<Export, 'id' | 'name' | 'listId' | 'connectionId' | 'segmentIds'>,
  run: { id: string; trigger: RunTrigger },
  profiles?: number,
): WorkflowStartOptions<(input: ExportRunInput) => Promise<unknown>> & { workflowId: string } {
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
 * workflow could not be started (the row then ends `failed` with `start_failed`).
 */
export async function startRun(deps: RunsDeps, input: { exportId: string; trigger: RunTrigger }): Promise<StartRunOutcome> {
  const { store, config, temporal } = deps;
  const now = () => (deps.clock ?? (() => new Date()))();
  const exp = await store.exports.get(input.exportId);
  if (!exp || exp.deletedAt) return { outcome: 'refused', code: 'export_not_found', message: `export ${input.exportId} not found` };
  if (!exp.connectionId) {
    return { outcome: 'refused', code: 'export_detached', message: `export ${exp.id} has no connection: attach one before running it` };
  }
  const runId = newId('run');
  const workflowId = exportRunWorkflowId(exp.id, runId);
  let created = await store.runs.createRunning({ id: runId, exportId: exp.id, trigger: input.trigger, workflowId, startedAt: now().toISOString() });
  if (!created.created && (await repairStaleRun(deps, created.runningRunId))) {
    created = await store.runs.createRunning({ id: runId, exportId: exp.id, trigger: input.trigger, workflowId, startedAt: now().toISOString() });
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
      throw new RunStartError(failed ?? created.run, err);
    }
  }
  deps.logger?.info({ runId, exportId: exp.id, trigger: input.trigger, workflowId }, 'run started');
  return { outcome: 'started', run: created.run };
}

/**
 * Records a run that did not start, e.g. a scheduled start while a run was going
 * (`{code: 'run_in_progress', message}`), with the id of the workflow that decided it, if any.
 */
export async function recordSkippedRun(
  deps: Pick<RunsDeps, 'store' | 'clock'>,
  input: { exportId: string; trigger: RunTrigger; reason: RunError; workflowId?: string },
): Promise<RunRecord> {
  const now = (deps.clock ?? (() => new Date()))();
  return deps.store.runs.createSkipped(
    { id: newId('run'), exportId: input.exportId, trigger: input.trigger, workflowId: input.workflowId ?? '', startedAt: now.toISOString() },
    input.reason,
  );
}

/**
 * A run row says running but its workflow is not (never started because the process died between
 * the insert and the start, or terminated by an operator): ends the row so the export can run
 * again. Answers true when it ended the row.
 */
export async function repairStaleRun(deps: RunsDeps, runId: string, graceMs = 60_000): Promise<boolean> {
  const run = await deps.store.runs.get(runId);
  if (!run || run.status !== 'running') return run !== undefined;
  const now = (deps.clock ?? (() => new Date()))();
  let error: RunError;
  let status: 'failed' | 'cancelled' = 'failed';
  try {
    const description = await deps.temporal.workflow.getHandle(run.workflowId).describe();
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
      default:
        error = { code: 'workflow_ended', message: `the run workflow ended (${description.status.name.toLowerCase()}) without finishing the run` };
    }
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) return false; // Temporal does not answer: assume it runs
    if (now.getTime() - Date.parse(run.startedAt) < graceMs) return false; // it may be starting right now
    error = { code: 'workflow_not_started', message: 'the run workflow was never started (the process starting it stopped)' };
  }
  await deps.store.runs.finish(run.id, { status, error, finishedAt: now.toISOString() });
  deps.logger?.warn({ runId: run.id, code: error.code }, 'ended a stale running run');
  return true;
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
    const now = (deps.clock ?? (() => new Date()))();
    const ended = await deps.store.runs.finish(run.id, { status: 'cancelled', error: { code: 'cancelled', message: 'the run was cancelled' }, finishedAt: now.toISOString() });
    return { outcome: 'cancelled', run: ended ?? run };
  }
}
