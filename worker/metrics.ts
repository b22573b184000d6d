import type { MetricMeter } from '@temporalio/common';
import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import type { Config } from '../common/config';
import { METRICS, RUN_DURATION_BUCKETS, WAIT_BUCKETS, type ProductMetrics } from '../services/metrics';

/**
 * The worker's metrics: the Temporal SDK core runtime serves Prometheus at WORKER_METRICS_ADDRESS
 * (its own metrics, `temporal_…`), and the product's go through the same runtime's metric meter, so
 * one endpoint serves both. Unset: no endpoint, and the meter records nothing anyone reads.
 */
export function installRuntime(config: Config): ProductMetrics {
  const address = config.metrics.workerAddress;
  Runtime.install({
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) },
      ...(address
        ? {
            metrics: {
              prometheus: {
                bindAddress: address,
                histogramBucketOverrides: { [METRICS.runDuration.name]: RUN_DURATION_BUCKETS, [METRICS.rateLimitWait.name]: WAIT_BUCKETS },
              },
            },
          }
        : {}),
    },
  });
  return meterMetrics(Runtime.instance().metricMeter);
}

/** The product's metrics over a Temporal SDK metric meter. */
export function meterMetrics(meter: MetricMeter): ProductMetrics {
  const runsEnded = meter.createCounter(METRICS.runsEnded.name, undefined, METRICS.runsEnded.help);
  const runDuration = meter.createHistogram(METRICS.runDuration.name, 'float', 's', METRICS.runDuration.help);
  const contacts = meter.createCounter(METRICS.contacts.name, undefined, METRICS.contacts.help);
  const runAlerts = meter.createCounter(METRICS.runAlerts.name, undefined, METRICS.runAlerts.help);
  const ccRequests = meter.createCounter(METRICS.ccRequests.name, undefined, METRICS.ccRequests.help);
  const rateLimitWait = meter.createHistogram(METRICS.rateLimitWait.name, 'float', 's', METRICS.rateLimitWait.help);
  const dailyQuota = meter.createGauge(METRICS.dailyQuota.name, 'int', undefined, METRICS.dailyQuota.help);
  const webhookAttempts = meter.createCounter(METRICS.webhookAttempts.name, undefined, METRICS.webhookAttempts.help);
  return {
    runEnded: ({ status, trigger, seconds }) => {
      runsEnded.add(1, { status, trigger });
      if (seconds !== null) runDuration.record(seconds, { status, trigger });
    },
    contacts: (kind, n) => contacts.add(n, { kind }),
    runAlert: (reason) => runAlerts.add(1, { reason }),
    constantContactRequest: (endpoint, outcome) => ccRequests.add(1, { endpoint, outcome }),
    rateLimitWait: (seconds) => rateLimitWait.record(seconds),
    dailyQuotaLeft: (connectionId, remaining) => dailyQuota.set(remaining, { connection_id: connectionId }),
    webhookAttempt: (outcome) => webhookAttempts.add(1, { outcome }),
  };
}
