import { ApplicationFailure, log, proxyActivities } from '@temporalio/workflow';
import type { ScheduleActivities, ScheduledRunOutcome } from '../activities/schedules';
import type { RefreshInput } from '../services/contracts';
import { withRetry } from './retry-policies';

/**
 * The refresh: every segment is refreshed, then every export whose schedule mode is `with-refresh`
 * (and that has a connection) gets a run with trigger `refresh`. The runs start only after the
 * segment refresh finished, so they export fresh membership. A run already going for an export is
 * not doubled: that start is recorded as a `skipped` run (run_in_progress).
 *
 * Started by the refresh Temporal Schedule and by POST /v1/refresh.
 */
export interface RefreshResult {
  segmentsRefreshed: number;
  runs: ScheduledRunOutcome[];
}

const { refreshAllSegments } = proxyActivities<ScheduleActivities>(
  withRetry('longWait', { startToCloseTimeout: '2 hours', heartbeatTimeout: '1 minute', summary: 'refresh every segment' }),
);

const { listRefreshExports, recordSkippedRuns, startExportRun } = proxyActivities<ScheduleActivities>(
  withRetry('store', { startToCloseTimeout: '1 minute' }, ['export_not_found']),
);

/** Runs started at once; the runs themselves go on as their own workflows. */
const START_BATCH = 10;

export async function refresh(input: RefreshInput = { source: 'on-demand' }): Promise<RefreshResult> {
  let segmentsRefreshed: number;
  try {
    ({ segments: segmentsRefreshed } = await refreshAllSegments());
  } catch (err) {
    // The exports would export stale membership: each gets a skipped run saying why, then the refresh fails.
    const exportIds = await listRefreshExports();
    await recordSkippedRuns({
      exportIds,
      trigger: 'refresh',
      error: { code: 'segment_refresh_failed', message: 'the scheduled refresh could not refresh the segments, so this export did not run' },
    });
    throw ApplicationFailure.nonRetryable(`segment refresh failed: ${(err as Error).message}`, 'segment_refresh_failed');
  }

  const exportIds = await listRefreshExports();
  log.info('segments refreshed; starting runs', { source: input.source, segmentsRefreshed, exports: exportIds.length });
  const runs: ScheduledRunOutcome[] = [];
  for (let i = 0; i < exportIds.length; i += START_BATCH) {
    const batch = exportIds.slice(i, i + START_BATCH);
    runs.push(
      ...(await Promise.all(
        batch.map((exportId, j) =>
          startExportRun
            .executeWithOptions(
              { summary: `start run ${i + j + 1}/${exportIds.length}: export ${exportId}` },
              [{ exportId, trigger: 'refresh' }],
            )
            .catch((err: unknown): ScheduledRunOutcome => ({
              exportId,
              outcome: 'failed',
              runId: null,
              error: { code: 'start_failed', message: (err as Error).message },
            })),
        ),
      )),
    );
  }
  return { segmentsRefreshed, runs };
}
