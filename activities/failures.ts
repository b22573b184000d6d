import { ApplicationFailure } from '@temporalio/common';
import { ConstantContactError } from '../constant-contact/types';
import { DAILY_QUOTA_EXHAUSTED } from '../services/contracts';

/**
 * The one mapping from failures to activity failures. Constant Contact errors are classified once,
 * in the client (retryable or not, with a delay when known); here they only cross into Temporal as
 * an ApplicationFailure whose `type` is their snake_case code, which a run that fails carries as its
 * error code.
 */

/** A run failure with a code (non-retryable: the run fails with it). */
export function runFailure(code: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: code, message, nonRetryable: true });
}

/** A Constant Contact error as the failure Temporal retries or not; any other error unchanged. */
export function toActivityFailure(err: unknown): unknown {
  if (!(err instanceof ConstantContactError)) return err;
  if (err.code === 'daily_quota_exhausted') {
    // Not retried by Temporal: the workflow waits on a durable timer until the quota resets (workflows/quota.ts).
    return ApplicationFailure.create({
      type: DAILY_QUOTA_EXHAUSTED,
      message: err.message,
      nonRetryable: true,
      details: [{ retryAfterMs: err.retryAfterMs ?? null }],
    });
  }
  if (err.retryable) {
    return ApplicationFailure.create({
      type: err.code,
      message: err.message,
      nonRetryable: false,
      ...(err.retryAfterMs !== undefined ? { nextRetryDelay: Math.max(100, err.retryAfterMs) } : {}),
    });
  }
  // The run's error code says what an admin does about it, as the API's does.
  const code = err.code === 'not_connected' ? 'connection_not_connected' : err.code;
  return runFailure(code, err.message);
}

/** Runs `fn`; a Constant Contact error leaves it as its activity failure. */
export async function classified<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toActivityFailure(err);
  }
}
