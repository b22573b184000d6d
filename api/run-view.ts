import type { Config } from '../common/config';
import type { RunRecord } from '../store/runs';
import type { Run } from '../store/types';

/** How the API presents runs, and its links into the Temporal Web UI. */

type TemporalConfig = Config['temporal'];
const namespaceUrl = (temporal: TemporalConfig) => `${temporal.uiUrl}/namespaces/${encodeURIComponent(temporal.namespace)}`;

/** Where the Temporal Web UI shows a workflow. */
export const workflowUiUrl = (temporal: TemporalConfig, workflowId: string) => `${namespaceUrl(temporal)}/workflows/${encodeURIComponent(workflowId)}`;

/** Where the Temporal Web UI shows a Temporal Schedule. */
export const scheduleUiUrl = (temporal: TemporalConfig, scheduleId: string) => `${namespaceUrl(temporal)}/schedules/${encodeURIComponent(scheduleId)}`;

/** The Temporal Web UI's list of an export's runs (search attribute ExportId). */
export const exportRunsUiUrl = (temporal: TemporalConfig, exportId: string) =>
  `${namespaceUrl(temporal)}/workflows?query=${encodeURIComponent(`ExportId="${exportId}"`)}`;

/** A run as the API answers it (GET /v1/runs/{id}). */
export type RunJson = Pick<Run, 'id' | 'exportId' | 'status' | 'trigger' | 'startedAt' | 'finishedAt' | 'workflowId' | 'counts' | 'error'> & {
  temporalUiUrl: string;
  progress: Pick<Run, 'phase' | 'chunksDone' | 'chunksTotal'> & { percent: number };
};

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

export function runJson(run: RunRecord, temporal: TemporalConfig): RunJson {
  return {
    id: run.id,
    exportId: run.exportId,
    status: run.status,
    trigger: run.trigger,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    workflowId: run.workflowId,
    // A skipped run that no workflow decided has no workflow: the export's runs in the UI instead.
    temporalUiUrl: run.workflowId ? workflowUiUrl(temporal, run.workflowId) : exportRunsUiUrl(temporal, run.exportId),
    progress: { phase: run.phase, chunksDone: run.chunksDone, chunksTotal: run.chunksTotal, percent: runPercent(run) },
    counts: run.counts,
    error: run.error,
  };
}
