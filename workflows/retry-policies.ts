import type { ActivityOptions, RetryPolicy } from '@temporalio/workflow';

/**
 * How every activity call of every workflow is retried, by kind of call: one table, so that the
 * same kind of failure is retried the same way everywhere and every retry ends. A policy bounds
 * its attempts; besides, an activity that Constant Contact keeps answering with 5xx or resets
 * fails for good with `constant_contact_unavailable` after CC_UNAVAILABLE_AFTER_SECONDS
 * (activities/failures.ts), well before a Constant Contact policy runs out of attempts.
 * What a retry cannot fix (a typed, non-retryable failure) is never retried.
 */
export type CallKind = 'store' | 'constantContactRead' | 'constantContactWrite' | 'longWait';

export const RETRY_POLICIES: Readonly<Record<CallKind, Readonly<RetryPolicy>>> = {
  /** Store reads and writes: a restarted database or a busy SQLite file passes in seconds; about 10 minutes in all. */
  store: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 25 },
  /**
   * Constant Contact reads (the list, custom fields, polls of imports, removals and exports): the
   * attempts bound what the unavailability limit does not see (a worker dying mid-call, 429s) at
   * about 2 hours.
   */
  constantContactRead: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 250 },
  /** Constant Contact writes (imports, removals, contact exports): a body sent again less often to a service in trouble; about 2 hours. */
  constantContactWrite: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 125 },
  /** Long activities that heartbeat and resume from it (the snapshot, reading a contact export, refreshing every segment). */
  longWait: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 10 },
};

/** Activity options with the retry policy of `kind`, and failure types that must not be retried. */
export function withRetry(kind: CallKind, options: Omit<ActivityOptions, 'retry'>, nonRetryableErrorTypes?: string[]): ActivityOptions {
  return { ...options, retry: { ...RETRY_POLICIES[kind], ...(nonRetryableErrorTypes ? { nonRetryableErrorTypes } : {}) } };
}

/**
 * Webhook deliveries are retried on their own terms, not a run's: from `initialIntervalMs`
 * (WEBHOOK_RETRY_INITIAL_SECONDS), doubling up to an hour, within the delivery's 24 hours.
 */
export function webhookRetryPolicy(initialIntervalMs: number, nonRetryableErrorTypes: string[]): RetryPolicy {
  return { initialInterval: initialIntervalMs, backoffCoefficient: 2, maximumInterval: '1 hour', nonRetryableErrorTypes };
}
