import { proxyActivities } from '@temporalio/workflow';
import type { ScheduleActivities, ScheduledRunOutcome } from '../activities/schedules';
import type { ScheduledExportRunInput } from '../services/contracts';
import { withRetry } from './retry-policies';

/**
 * What an export's Temporal Schedule (`export-schedule-<exportId>`) starts: one activity that
 * starts the export's run with trigger `schedule`, or records why it did not (a `skipped` run:
 * run_in_progress, export_detached, export_deleted). It ends as soon as the run is started; the
 * run is its own workflow (`export-run-<exportId>-<runId>`).
 */

const { startExportRun } = proxyActivities<ScheduleActivities>(withRetry('store', { startToCloseTimeout: '1 minute' }, ['export_not_found']));

export async function scheduledExportRun(input: ScheduledExportRunInput): Promise<ScheduledRunOutcome> {
  return startExportRun.executeWithOptions(
    { summary: `start the scheduled run of export ${input.exportId}` },
    [{ exportId: input.exportId, trigger: 'schedule' }],
  );
}
