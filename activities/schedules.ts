import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { derivedId } from '../common/ids';
import type { RunRecord } from '../store/runs';
import { RunStartError, recordSkippedRun, startRun } from '../services/run-start';
import { deleteExportSchedule } from '../services/schedule-sync';
import { runEnded } from '../services/events';
import type { RunError } from '../store/types';
import { runFailure } from './failures';
import { heartbeat } from './heartbeat';
import type { ActivityDeps } from './index';

/**
 * The activities of the refresh (workflows/refresh.ts) and of an export's Temporal Schedule
 * (workflows/scheduledExportRun.ts). They pass ids and codes only.
 *
 * Starting a run goes through services/run-start.ts `startRun`, like POST /v1/exports/{id}/runs: one
 * running run per export, whoever starts it. A start that cannot happen leaves a run record
 * saying why instead of silence: `skipped` with run_in_progress, export_detached or
 * export_deleted; a run whose connection needs re-authorization starts and fails at once with
 * that code (the run's own validation).
 *
 * Retried, they write nothing twice: the run an activity records for an export has an id derived
 * from the calling workflow execution and the activity (`runIdFor`), the same on every attempt, so
 * a retry finds the row (and the workflow) an earlier attempt made instead of making another.
 */

export type ScheduledTrigger = 'schedule' | 'refresh';

export interface StartExportRunInput {
  exportId: string;
  trigger: ScheduledTrigger;
}

export interface ScheduledRunOutcome {
  exportId: string;
  /**
   * started: a run is going; skipped: a `skipped` run records why not; failed: the run was recorded
   * failed (Temporal did not take its workflow); left-out: the export no longer runs on this trigger
   * (its schedule changed meanwhile), nothing recorded.
   */
  outcome: 'started' | 'skipped' | 'failed' | 'left-out';
  runId: string | null;
  error?: RunError;
}

export interface RecordSkippedRunsInput {
  exportIds: string[];
  trigger: ScheduledTrigger;
  error: RunError;
}

/** Segments refreshed per page between heartbeats' progress records. */
const SEGMENT_PAGE = 100;

function currentContext(): Context {
  return Context.current();
}

/** The worker's Temporal client, bound to its namespace. */
const workerClient = (): Client => currentContext().client;

/** The id of the workflow that called this activity (a skipped run links to it in the Temporal UI). */
const callingWorkflowId = (): string => currentContext().info.workflowExecution?.workflowId ?? '';

/** The id of the run this activity records for `exportId`: the same on every attempt of the activity. */
function runIdFor(exportId: string): string {
  const { workflowExecution: wf, activityId, scheduledTimestampMs } = currentContext().info;
  return derivedId('run', scheduledTimestampMs, `${wf?.workflowId}/${wf?.runId}/${activityId}/${exportId}`);
}

/** What an earlier attempt of this start did, from the run it recorded. */
function earlierOutcome(run: RunRecord): ScheduledRunOutcome {
  const error = run.error ?? undefined;
  if (run.status === 'skipped') return { exportId: run.exportId, outcome: 'skipped', runId: run.id, error };
  if (run.status === 'failed' && error?.code === 'start_failed') return { exportId: run.exportId, outcome: 'failed', runId: run.id, error };
  return { exportId: run.exportId, outcome: 'started', runId: run.id };
}

export function createScheduleActivities(deps: ActivityDeps) {
  const { store, logger } = deps;

  async function skip(exportId: string, trigger: ScheduledTrigger, error: RunError): Promise<ScheduledRunOutcome> {
    const run = await recordSkippedRun(deps, { id: runIdFor(exportId), exportId, trigger, reason: error, workflowId: callingWorkflowId() });
    await runEnded(deps, run);
    logger.info({ exportId, runId: run.id, trigger, code: error.code }, 'scheduled run skipped');
    return { exportId, outcome: 'skipped', runId: run.id, error };
  }

  return {
    /**
     * Refreshes every segment, one transaction each, heartbeating after each one. A retry goes on
     * after the last segment the previous attempt reported done.
     */
    async refreshAllSegments(): Promise<{ segments: number }> {
      const ctx = currentContext();
      const resumed = ctx.info.heartbeatDetails as { afterId?: string; segments?: number } | undefined;
      let afterId = resumed?.afterId;
      let segments = resumed?.segments ?? 0;
      for (;;) {
        const page = await store.segments.list(SEGMENT_PAGE, afterId);
        for (const segment of page.items) {
          if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('cancelled');
          await store.segments.refresh(segment.id, deps.clock);
          segments += 1;
          afterId = segment.id;
          heartbeat({ afterId, segments });
        }
        if (!page.hasMore) break;
      }
      logger.info({ segments }, 'segments refreshed');
      return { segments };
    },

    /** Ids of the exports a refresh runs: schedule mode `with-refresh`, with a connection, not deleted. */
    async listRefreshExports(): Promise<string[]> {
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.exports.list({ limit: 500, cursor });
        for (const exp of page.items) if (exp.schedule.mode === 'with-refresh' && exp.connectionId) ids.push(exp.id);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return ids;
    },

    /** Starts a run of the export with this trigger, or records why it did not start. */
    async startExportRun(input: StartExportRunInput): Promise<ScheduledRunOutcome> {
      const { exportId, trigger } = input;
      const runId = runIdFor(exportId);
      const earlier = await store.runs.get(runId);
      if (earlier && earlier.status !== 'running') return earlierOutcome(earlier);
      const exp = await store.exports.get(exportId, { includeDeleted: true });
      if (!exp) {
        // No row to attach a run to: the schedule is an orphan. Remove it and fail this workflow visibly.
        if (trigger === 'schedule') await deleteExportSchedule(workerClient(), exportId);
        throw runFailure('export_not_found', `export ${exportId} does not exist; its schedule was removed`);
      }
      if (exp.deletedAt) {
        if (trigger === 'schedule') await deleteExportSchedule(workerClient(), exportId);
        return skip(exportId, trigger, { code: 'export_deleted', message: `export ${exportId} was deleted on ${exp.deletedAt}; its schedule was removed` });
      }
      const wanted = trigger === 'schedule' ? 'custom' : 'with-refresh';
      if (exp.schedule.mode !== wanted) {
        // The export's schedule changed after this start was decided (or a sync was missed): nothing to run.
        if (trigger === 'schedule') await deleteExportSchedule(workerClient(), exportId);
        logger.info({ exportId, trigger, mode: exp.schedule.mode }, 'export left out: its schedule mode changed');
        return { exportId, outcome: 'left-out', runId: null };
      }
      let started;
      try {
        started = await startRun({ ...deps, temporal: workerClient() }, { exportId, trigger, runId });
      } catch (err) {
        if (err instanceof RunStartError) {
          return { exportId, outcome: 'failed', runId: err.run.id, error: err.run.error ?? { code: 'start_failed', message: err.message } };
        }
        throw err;
      }
      if (started.outcome === 'started') return { exportId, outcome: 'started', runId: started.run.id };
      switch (started.code) {
        case 'run_in_progress':
          return skip(exportId, trigger, {
            code: 'run_in_progress',
            message: `a run of this export was in progress (${started.runningRunId}), so this ${trigger === 'schedule' ? 'scheduled' : 'refresh'} start did not start another`,
          });
        case 'export_detached':
          return skip(exportId, trigger, {
            code: 'export_detached',
            message: 'the export has no connection (it was detached when its connection was removed): attach a connection for it to run',
          });
        case 'export_not_found':
          // Deleted between the read above and the start.
          return skip(exportId, trigger, { code: 'export_deleted', message: started.message });
      }
    },

    /** Records a `skipped` run for each export (e.g. the refresh could not refresh the segments). */
    async recordSkippedRuns(input: RecordSkippedRunsInput): Promise<number> {
      for (const exportId of input.exportIds) await skip(exportId, input.trigger, input.error);
      return input.exportIds.length;
    },
  };
}

export type ScheduleActivities = ReturnType<typeof createScheduleActivities>;
