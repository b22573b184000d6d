import type { RequestOutcome } from '../constant-contact/types';
import type { AlertReason } from '../store/alerts';
import type { RunStatus, RunTrigger } from '../store/types';

/**
 * The product's metrics, as the services, activities and the Constant Contact client record them.
 * Two backends serve them in Prometheus format under the same names: the worker's goes through the
 * Temporal SDK's metric meter (worker/metrics.ts: one endpoint with the SDK's own metrics), the
 * API's through prom-client (api/metrics.ts). Labels are fixed words, route templates and ids of
 * connections: never a profile, an email, a name or a token.
 */

export type ContactsKind = 'sent' | 'rejected' | 'suppressed' | 'removed';
export type WebhookOutcome = RequestOutcome | 'refused';

export interface ProductMetrics {
  /** A run ended (counted once per run, when its end is first recorded). */
  runEnded(run: { status: RunStatus; trigger: RunTrigger; seconds: number | null }): void;
  /** Contacts of a run that ended, by what happened to them. */
  contacts(kind: ContactsKind, n: number): void;
  runAlert(reason: AlertReason): void;
  constantContactRequest(endpoint: string, outcome: RequestOutcome): void;
  rateLimitWait(seconds: number): void;
  dailyQuotaLeft(connectionId: string, remaining: number): void;
  webhookAttempt(outcome: WebhookOutcome): void;
}

/** Metric names and help texts, shared by both backends (and the Grafana dashboard under docker/). */
export const METRICS = {
  runsEnded: { name: 'segment_export_runs_ended_total', help: 'Runs that ended, by status and trigger' },
  runDuration: { name: 'segment_export_run_duration_seconds', help: 'How long runs took from start to end, by status and trigger' },
  contacts: { name: 'segment_export_contacts_total', help: 'Contacts of ended runs: sent, rejected, suppressed, removed' },
  runAlerts: { name: 'segment_export_run_alerts_total', help: 'Alerts raised by runs, by reason' },
  ccRequests: { name: 'segment_export_cc_requests_total', help: 'Requests to Constant Contact by endpoint (route template) and outcome' },
  rateLimitWait: { name: 'segment_export_cc_rate_limit_wait_seconds', help: 'Time calls to Constant Contact waited for their rate-limit slot' },
  dailyQuota: { name: 'segment_export_cc_daily_quota_remaining', help: "Requests left in the day's Constant Contact budget, as seen by each connection's last call" },
  webhookAttempts: { name: 'segment_export_webhook_attempts_total', help: 'Webhook delivery attempts by outcome' },
} as const;

/** Bucket bounds in seconds: runs take seconds to hours; rate-limit waits a few milliseconds to seconds. */
export const RUN_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];
export const WAIT_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const nothing = () => undefined;

/** Records nothing (a process without a metrics endpoint, or a test). */
export const noMetrics: ProductMetrics = {
  runEnded: nothing,
  contacts: nothing,
  runAlert: nothing,
  constantContactRequest: nothing,
  rateLimitWait: nothing,
  dailyQuotaLeft: nothing,
  webhookAttempt: nothing,
};
