import type { Config } from '../common/config';

/** Links into the Temporal Web UI (run records, webhook payloads, schedules). */

type TemporalConfig = Config['temporal'];
const namespaceUrl = (temporal: TemporalConfig) => `${temporal.uiUrl}/namespaces/${encodeURIComponent(temporal.namespace)}`;

/** Where the Temporal Web UI shows a workflow. */
export const workflowUiUrl = (temporal: TemporalConfig, workflowId: string) => `${namespaceUrl(temporal)}/workflows/${encodeURIComponent(workflowId)}`;

/** Where the Temporal Web UI shows a Temporal Schedule. */
export const scheduleUiUrl = (temporal: TemporalConfig, scheduleId: string) => `${namespaceUrl(temporal)}/schedules/${encodeURIComponent(scheduleId)}`;

/** The Temporal Web UI's list of an export's runs (search attribute ExportId). */
export const exportRunsUiUrl = (temporal: TemporalConfig, exportId: string) =>
  `${namespaceUrl(temporal)}/workflows?query=${encodeURIComponent(`ExportId="${exportId}"`)}`;

/** A run's link: its workflow, or for a skipped run that no workflow decided, the export's runs. */
export const runUiUrl = (temporal: TemporalConfig, run: { workflowId: string; exportId: string }) =>
  run.workflowId ? workflowUiUrl(temporal, run.workflowId) : exportRunsUiUrl(temporal, run.exportId);
