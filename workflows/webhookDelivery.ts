/**
 * The delivery of one event to one webhook endpoint: an activity POSTs it, and Temporal retries a
 * failed attempt with backoff (from WEBHOOK_RETRY_INITIAL_SECONDS, doubling up to an hour) for up to
 * 24 hours. Started by whoever records the event (services/events.ts), never by a run's workflow, so
 * a delivery neither fails nor delays a run. The workflow always completes; the delivery record says
 * whether the endpoint took the event.
 */
import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { WEBHOOK_ADDRESS_REFUSED, WEBHOOK_GONE, type WebhookDeliveryInput, type WebhookDeliveryResult } from '../services/contracts';
import { webhookRetryPolicy, withRetry } from './retry-policies';

export async function webhookDelivery(input: WebhookDeliveryInput): Promise<WebhookDeliveryResult> {
  const { deliverWebhook } = proxyActivities<Activities>({
    startToCloseTimeout: '1 minute',
    scheduleToCloseTimeout: '24 hours',
    retry: webhookRetryPolicy(input.retryInitialMs, [WEBHOOK_ADDRESS_REFUSED, WEBHOOK_GONE]),
  });
  const { endWebhookDelivery } = proxyActivities<Activities>(withRetry('store', { startToCloseTimeout: '1 minute' }));
  try {
    const { status } = await deliverWebhook({ deliveryId: input.deliveryId });
    return { deliveryId: input.deliveryId, status };
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const reason = err.cause instanceof ApplicationFailure ? err.cause.message : 'no attempt succeeded within 24 hours';
    await endWebhookDelivery({ deliveryId: input.deliveryId, reason });
    return { deliveryId: input.deliveryId, status: 'failed' };
  }
}
