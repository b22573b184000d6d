import { ApplicationFailure } from '@temporalio/common';
import { requestOutcome } from '../constant-contact/types';
import { WEBHOOK_ADDRESS_REFUSED, WEBHOOK_GONE } from '../services/contracts';
import { noMetrics } from '../services/metrics';
import { createWebhookSender } from '../services/webhooks/deliver';
import { activityContext } from './heartbeat';
import type { ActivityDeps } from './index';

/**
 * The activities of workflows/webhookDelivery.ts: one signed POST of an event to an endpoint per
 * attempt, each attempt recorded in the store (time, status code or why there was none). Temporal
 * retries a failed attempt with backoff; an address that is not allowed, or a deleted webhook, ends
 * the delivery at once. The endpoint's URL is never logged (some carry a secret in their path).
 */

export interface WebhookDeliveryStep {
  deliveryId: string;
}

export function createWebhookActivities(deps: ActivityDeps) {
  const { store, clock, logger } = deps;
  const metrics = deps.metrics ?? noMetrics;
  const sender = createWebhookSender({ allowPrivate: deps.config.webhooks.allowPrivate });

  return {
    /** One attempt to deliver; throws (retryable) when the endpoint did not answer 2xx. */
    async deliverWebhook({ deliveryId }: WebhookDeliveryStep): Promise<{ status: 'delivered' | 'failed' }> {
      const target = await store.webhooks.deliveryTarget(deliveryId);
      if (!target) throw ApplicationFailure.create({ type: WEBHOOK_GONE, message: `delivery ${deliveryId} does not exist`, nonRetryable: true });
      if (target.status !== 'pending') return { status: target.status };
      const at = clock();
      if (target.secret === null) {
        await store.webhooks.endDelivery(deliveryId, 'failed', 'the webhook was deleted', at.toISOString());
        throw ApplicationFailure.create({ type: WEBHOOK_GONE, message: 'the webhook was deleted', nonRetryable: true });
      }
      const result = await sender.send({
        url: target.url,
        secret: target.secret,
        body: target.payload,
        eventType: target.eventType,
        eventId: target.eventId,
        deliveryId,
        now: at,
      });
      const delivered = result.error === null;
      const attempt = activityContext()?.info.attempt ?? 1;
      await store.webhooks.recordAttempt(
        deliveryId,
        { attempt, at: at.toISOString(), statusCode: result.statusCode, error: result.error, durationMs: result.durationMs },
        delivered ? 'delivered' : result.refused ? 'failed' : 'pending',
      );
      metrics.webhookAttempt(result.refused ? 'refused' : requestOutcome(result.statusCode ?? undefined));
      logger.info({ deliveryId, eventType: target.eventType, attempt, statusCode: result.statusCode, delivered }, 'webhook attempt');
      if (delivered) return { status: 'delivered' };
      if (result.refused) throw ApplicationFailure.create({ type: WEBHOOK_ADDRESS_REFUSED, message: result.error ?? 'address refused', nonRetryable: true });
      throw ApplicationFailure.create({ type: 'webhook_delivery_failed', message: result.error ?? 'the endpoint did not accept the event', nonRetryable: false });
    },

    /** Ends a delivery that is still pending when its retries ran out. */
    async endWebhookDelivery({ deliveryId, reason }: WebhookDeliveryStep & { reason: string }): Promise<void> {
      await store.webhooks.endDelivery(deliveryId, 'failed', reason, clock().toISOString());
    },
  };
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;
