/**
 * What the services (which start workflows and keep Temporal Schedules) and the workflows agree on:
 * workflow types, workflow ids, inputs, search attributes and the failure types a workflow acts on.
 * Deterministic and free of Node modules: workflows import it, so it is part of the workflow bundle.
 *
 * Everything here is ids, cursors and counts: never a profile, an email, a name or a token.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { RunTrigger } from '../store/types';

export const EXPORT_RUN_WORKFLOW_TYPE = 'exportRun';
export const REFRESH_WORKFLOW_TYPE = 'refresh';
export const SCHEDULED_EXPORT_RUN_WORKFLOW_TYPE = 'scheduledExportRun';

/** Readable, unique per run: `export-run-<exportId>-<runId>`. */
export const exportRunWorkflowId = (exportId: string, runId: string): string => `export-run-${exportId}-${runId}`;

/** Search attributes every run carries (registered as Keyword on the server; scripts/temporal.js). */
export const runSearchAttributes = {
  exportId: defineSearchAttributeKey('ExportId', SearchAttributeType.KEYWORD),
  connectionId: defineSearchAttributeKey('ConnectionId', SearchAttributeType.KEYWORD),
  runTrigger: defineSearchAttributeKey('RunTrigger', SearchAttributeType.KEYWORD),
  runStatus: defineSearchAttributeKey('RunStatus', SearchAttributeType.KEYWORD),
} as const;

/** What an export run starts with; the workflow adds what it carries across continue-as-new. */
export interface ExportRunStart {
  runId: string;
  exportId: string;
  trigger: RunTrigger;
}

/** The refresh workflow: every segment, then a run of every `with-refresh` export. */
export interface RefreshInput {
  /** Who asked: the refresh schedule, or POST /v1/refresh. */
  source: 'schedule' | 'on-demand';
}

/** What an export's Temporal Schedule starts: the run of that export. */
export interface ScheduledExportRunInput {
  exportId: string;
}

/**
 * The activity failure type of Constant Contact's spent daily quota: not retried by Temporal, the
 * workflow waits on a durable timer instead (details: `{retryAfterMs}`).
 */
export const DAILY_QUOTA_EXHAUSTED = 'daily_quota_exhausted';

export const WEBHOOK_DELIVERY_WORKFLOW_TYPE = 'webhookDelivery';

/** One event to one webhook endpoint, delivered with retries for up to a day; never part of a run. */
export interface WebhookDeliveryInput {
  deliveryId: string;
  /** The wait before the first retry; it doubles up to an hour (WEBHOOK_RETRY_INITIAL_SECONDS). */
  retryInitialMs: number;
}

export interface WebhookDeliveryResult {
  deliveryId: string;
  status: 'delivered' | 'failed';
}

/** Failure types of a delivery attempt that retrying cannot help. */
export const WEBHOOK_ADDRESS_REFUSED = 'webhook_address_refused';
export const WEBHOOK_GONE = 'webhook_deleted';
