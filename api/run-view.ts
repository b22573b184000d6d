import type { Config } from '../common/config';
import type { Store } from '../store';
import type { RunAlert } from '../store/alerts';
import type { RunRecord } from '../store/runs';
import type { Run } from '../store/types';
import { runUiUrl } from '../services/temporal-links';

/** How the API presents runs, and its links into the Temporal Web UI. */

type TemporalConfig = Config['temporal'];
export { exportRunsUiUrl, scheduleUiUrl, workflowUiUrl } from '../services/temporal-links';

/** A run as the API answers it (GET /v1/runs/{id}). */
export type RunJson = Pick<Run, 'id' | 'exportId' | 'status' | 'trigger' | 'startedAt' | 'finishedAt' | 'workflowId' | 'counts' | 'error' | 'dryRun' | 'fullResync' | 'plan'> & {
  temporalUiUrl: string;
  progress: Pick<Run, 'phase' | 'chunksDone' | 'chunksTotal'> & { percent: number };
  alerts: RunAlert[];
};

/** A run record with the alerts it raised when it ended. */
export type RunWithAlerts = RunRecord & { alerts?: RunAlert[] };

/** The runs with their alerts (one query for all of them). */
export async function withAlerts(store: Store, runs: readonly RunRecord[]): Promise<RunWithAlerts[]> {
  const alerts = await store.alerts.ofRuns(runs.map((r) => r.id));
  return runs.map((r) => ({ ...r, alerts: alerts.get(r.id) ?? [] }));
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

export function runJson(run: RunWithAlerts, temporal: TemporalConfig): RunJson {
  return {
    id: run.id,
    exportId: run.exportId,
    status: run.status,
    trigger: run.trigger,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    workflowId: run.workflowId,
    temporalUiUrl: runUiUrl(temporal, run),
    progress: { phase: run.phase, chunksDone: run.chunksDone, chunksTotal: run.chunksTotal, percent: runPercent(run) },
    counts: run.counts,
    dryRun: run.dryRun,
    fullResync: run.fullResync,
    plan: run.plan,
    error: run.error,
    alerts: run.alerts ?? [],
  };
}
