import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { sha256 } from '../common/secrets';
import type { ConstantContactObserver } from '../constant-contact/types';
import type { RunAlert } from '../store/alerts';
import type { EventType } from '../store/events';
import type { RunRecord } from '../store/runs';
import type { Webhook } from '../store/webhooks';
import { effectiveThresholds, evaluateAlerts } from './alerts';
import { WEBHOOK_DELIVERY_WORKFLOW_TYPE, type WebhookDeliveryInput } from './contracts';
import type { RunsDeps } from './deps';
import { noMetrics, type ProductMetrics } from './metrics';
import { runUiUrl } from './temporal-links';

/**
 * Events: what happened to a run or a connection, recorded once in the store where the change is
 * recorded (run start, end, skip, awaiting approval; a connection that needs re-authorization), and
 * delivered to the webhooks that subscribe to it by one small workflow per (webhook, event),
 * started through a Temporal client with an id derived from both: recording or delivering an event
 * twice delivers it once. A run's end also decides its alerts.
 *
 * Nothing here ever fails or delays its caller: a problem is logged and the run goes on.
 * Payloads carry ids, statuses, counts and codes: no profile data, name, email or token.
 */

/** The store, a Temporal client to start deliveries with, and the metrics (the run services' deps). */
export type EventDeps = RunsDeps;

interface NewEvent {
  /** What happened, readable and unique: `run.succeeded-run_…`. The event id is derived from it. */
  key: string;
  type: EventType;
  createdAt: string;
  runId?: string;
  exportId?: string;
  connectionId?: string;
  data: Record<string, unknown>;
}

const now = (deps: EventDeps) => (deps.clock ?? (() => new Date()))().toISOString();

export const eventIdOf = (key: string) => `evt_${sha256(key).slice(0, 32)}`;
export const deliveryWorkflowId = (webhookId: string, eventKey: string) => `webhook-delivery-${webhookId}-${eventKey}`;

/** Records the event and starts its deliveries; answers true when the event was new. */
async function publish(deps: EventDeps, event: NewEvent): Promise<boolean> {
  const id = eventIdOf(event.key);
  const payload = JSON.stringify({ id, type: event.type, createdAt: event.createdAt, ...event.data });
  const fresh = await deps.store.events.record({
    id,
    type: event.type,
    runId: event.runId ?? null,
    exportId: event.exportId ?? null,
    connectionId: event.connectionId ?? null,
    payload,
    createdAt: event.createdAt,
  });
  for (const webhook of await deps.store.webhooks.active()) {
    if (!(await subscribes(deps, webhook, event))) continue;
    const workflowId = deliveryWorkflowId(webhook.id, event.key);
    const delivery = await deps.store.webhooks.ensureDelivery({ webhookId: webhook.id, eventId: id, workflowId, now: now(deps) });
    if (delivery.status === 'pending') await startDelivery(deps, workflowId, { deliveryId: delivery.id, retryInitialMs: deps.config.webhooks.retryInitialMs }, event.type);
  }
  return fresh;
}

/** The webhook wants the event: its type, and its export filter (a connection event reaches the filter's export's connection). */
async function subscribes(deps: EventDeps, webhook: Webhook, event: NewEvent): Promise<boolean> {
  if (!webhook.events.includes(event.type)) return false;
  if (!webhook.exportId) return true;
  if (event.exportId) return event.exportId === webhook.exportId;
  const exp = await deps.store.exports.get(webhook.exportId, { includeDeleted: true });
  return Boolean(event.connectionId && exp?.connectionId === event.connectionId);
}

async function startDelivery(deps: EventDeps, workflowId: string, input: WebhookDeliveryInput, type: EventType): Promise<void> {
  try {
    await deps.temporal.workflow.start(WEBHOOK_DELIVERY_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: deps.config.temporal.taskQueue,
      args: [input],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: `Webhook: ${type}`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/** Runs `fn`, logging instead of throwing: events never fail or delay what they report. */
async function safely(deps: EventDeps, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    deps.logger?.warn({ event: what, err: err instanceof Error ? err.message : String(err) }, 'event not published');
  }
}

async function runEvent(deps: EventDeps, type: EventType, run: RunRecord, extra: { key?: string; createdAt?: string; data?: Record<string, unknown> } = {}): Promise<NewEvent> {
  const exp = await deps.store.exports.get(run.exportId, { includeDeleted: true });
  return {
    key: extra.key ?? `${type}-${run.id}`,
    type,
    createdAt: extra.createdAt ?? now(deps),
    runId: run.id,
    exportId: run.exportId,
    connectionId: exp?.connectionId ?? undefined,
    data: {
      runId: run.id,
      exportId: run.exportId,
      connectionId: exp?.connectionId ?? null,
      status: run.status,
      trigger: run.trigger,
      phase: run.phase,
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      counts: run.counts,
      errorCode: run.error?.code ?? null,
      temporalUiUrl: runUiUrl(deps.config.temporal, run),
      ...extra.data,
    },
  };
}

/** A run started (its workflow was accepted). */
export function runStarted(deps: EventDeps, run: RunRecord): Promise<void> {
  return safely(deps, 'run.started', async () => {
    await publish(deps, await runEvent(deps, 'run.started', run, { createdAt: run.startedAt }));
  });
}

/** A run waits for an admin to approve its removals. */
export function runAwaitingApproval(deps: EventDeps, runId: string): Promise<void> {
  return safely(deps, 'run.awaiting_approval', async () => {
    const run = await deps.store.runs.get(runId);
    if (run) await publish(deps, await runEvent(deps, 'run.awaiting_approval', run));
  });
}

/**
 * A run ended (succeeded, failed, cancelled or skipped): its alerts are decided and recorded, then
 * its end and each alert are published. The metrics of its end count once, when the end is new.
 */
export function runEnded(deps: EventDeps, run: RunRecord | undefined): Promise<void> {
  if (!run || run.status === 'running') return Promise.resolve();
  return safely(deps, `run.${run.status}`, async () => {
    const alerts = await decideAlerts(deps, run);
    const ended = await runEvent(deps, `run.${run.status}` as EventType, run, { createdAt: run.finishedAt ?? now(deps) });
    if (await publish(deps, ended)) countEnd(deps.metrics ?? noMetrics, run, alerts);
    for (const alert of alerts) {
      await publish(deps, await runEvent(deps, 'run.alert', run, { key: `run.alert-${run.id}-${alert.reason}`, createdAt: ended.createdAt, data: { alert } }));
    }
  });
}

async function decideAlerts(deps: EventDeps, run: RunRecord): Promise<RunAlert[]> {
  const [overrides, last] = await Promise.all([
    deps.store.alerts.overrides(run.exportId),
    deps.store.alerts.lastSucceededCounts(run.exportId, run.startedAt, run.id),
  ]);
  const alerts = evaluateAlerts(run, effectiveThresholds(deps.config.alerts, overrides), last);
  await deps.store.alerts.record(run.id, alerts, now(deps));
  return (await deps.store.alerts.ofRuns([run.id])).get(run.id) ?? [];
}

function countEnd(metrics: ProductMetrics, run: RunRecord, alerts: readonly RunAlert[]): void {
  const seconds = run.finishedAt ? Math.max(0, (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000) : null;
  metrics.runEnded({ status: run.status, trigger: run.trigger, seconds });
  const counts = run.counts as RunRecord['counts'] & { suppressed?: number };
  metrics.contacts('sent', counts.sent);
  metrics.contacts('rejected', counts.rejected);
  metrics.contacts('suppressed', counts.suppressed ?? 0);
  metrics.contacts('removed', counts.removed);
  for (const alert of alerts) metrics.runAlert(alert.reason);
}

/** A connection's tokens stopped working: an admin must authorize it again. */
export function connectionNeedsReauthorization(deps: EventDeps, connectionId: string, generation: number): Promise<void> {
  return safely(deps, 'connection.needs_reauthorization', async () => {
    await publish(deps, {
      key: `connection.needs_reauthorization-${connectionId}-${generation}`,
      type: 'connection.needs_reauthorization',
      createdAt: now(deps),
      connectionId,
      data: { connectionId, status: 'needs-reauthorization' },
    });
  });
}

/** What the Constant Contact client reports, turned into metrics and events. */
export function constantContactObserver(deps: EventDeps): ConstantContactObserver {
  const metrics = deps.metrics ?? noMetrics;
  return {
    request: ({ endpoint, outcome }) => metrics.constantContactRequest(endpoint, outcome),
    paced: ({ connectionId, waitedMs, remainingToday }) => {
      metrics.rateLimitWait(waitedMs / 1000);
      metrics.dailyQuotaLeft(connectionId, remainingToday);
    },
    needsReauthorization: (connectionId, generation) => void connectionNeedsReauthorization(deps, connectionId, generation),
  };
}
