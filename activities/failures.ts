import type { Info } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ConstantContactError } from '../constant-contact/types';
import { DAILY_QUOTA_EXHAUSTED } from '../services/contracts';
import { activityContext } from './heartbeat';

/**
 * The one mapping from failures to activity failures. Constant Contact errors are classified once,
 * in the client (retryable or not, with a delay when known); here they only cross into Temporal as
 * an ApplicationFailure whose `type` is their snake_case code, which a run that fails carries as its
 * error code.
 *
 * One more rule on top: a step that Constant Contact keeps answering with 5xx or resets does not
 * retry for ever. Once the step has been failing for longer than CC_UNAVAILABLE_AFTER_SECONDS, its
 * next such failure is final: `constant_contact_unavailable`, and the run fails with that code.
 */

/** The run error code of a Constant Contact that stayed unavailable past the configured bound. */
export const CONSTANT_CONTACT_UNAVAILABLE = 'constant_contact_unavailable';

/** Failure types meaning Constant Contact did not answer properly: a 5xx, a reset, refused or timed-out connection. */
const UNAVAILABLE_TYPES: ReadonlySet<string> = new Set(['server_error', 'network_error']);

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

/**
 * A retryable 5xx or network failure of a step that has failed since it was first scheduled more
 * than `boundMs` ago becomes final (`constant_contact_unavailable`); anything else is unchanged.
 * Every attempt of an activity before this one failed (that is why this one runs), so its streak
 * of failures began with its first attempt; a first attempt that fails is no streak yet.
 */
export function boundUnavailable(failure: unknown, streak: Pick<Info, 'attempt' | 'scheduledTimestampMs'>, nowMs: number, boundMs: number): unknown {
  if (!(failure instanceof ApplicationFailure) || failure.nonRetryable || !UNAVAILABLE_TYPES.has(failure.type ?? '')) return failure;
  if (streak.attempt <= 1) return failure;
  const failingMs = nowMs - streak.scheduledTimestampMs;
  if (failingMs < boundMs) return failure;
  return ApplicationFailure.create({
    type: CONSTANT_CONTACT_UNAVAILABLE,
    message: `Constant Contact has not let this step through for ${Math.round(failingMs / 1000)} s (the limit is ${Math.round(boundMs / 1000)} s); last: ${failure.message}`,
    nonRetryable: true,
  });
}

type ActivityFunction = (...args: never[]) => Promise<unknown>;

/** Every activity of `activities`, its failures classified and bounded as above (`boundMs`: CC_UNAVAILABLE_AFTER_SECONDS). */
export function withUnavailableBound<T extends Record<string, ActivityFunction>>(activities: T, boundMs: number): T {
  const bounded: Record<string, ActivityFunction> = {};
  for (const [name, fn] of Object.entries(activities)) {
    bounded[name] = async (...args) => {
      try {
        return await fn(...args);
      } catch (err) {
        const info = activityContext()?.info;
        const failure = toActivityFailure(err);
        throw info ? boundUnavailable(failure, info, Date.now(), boundMs) : failure;
      }
    };
  }
  return bounded as T;
}
