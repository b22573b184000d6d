import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { boundUnavailable, CONSTANT_CONTACT_UNAVAILABLE, toActivityFailure, withUnavailableBound } from '../../activities/failures';
import { ConstantContactError } from '../../constant-contact/types';

/**
 * A step that Constant Contact keeps failing (5xx, resets) is retried until it has been failing for
 * CC_UNAVAILABLE_AFTER_SECONDS, then fails for good with constant_contact_unavailable; other
 * failures are not touched by that bound.
 */

const BOUND = 30_000;
const NOW = Date.parse('2026-03-02T10:00:00Z');
const scheduled = (agoMs: number, attempt = 5) => ({ attempt, scheduledTimestampMs: NOW - agoMs });
const failure = (code: ConstantContactError['code'], retryable: boolean) => toActivityFailure(new ConstantContactError(code, `${code} happened`, retryable)) as ApplicationFailure;

test('a 5xx or a reset within the bound stays retryable; past it, it is final with constant_contact_unavailable', () => {
  for (const code of ['server_error', 'network_error'] as const) {
    expect(boundUnavailable(failure(code, true), scheduled(BOUND - 1), NOW, BOUND)).toMatchObject({ type: code, nonRetryable: false });
    const bounded = boundUnavailable(failure(code, true), scheduled(BOUND), NOW, BOUND) as ApplicationFailure;
    expect(bounded).toBeInstanceOf(ApplicationFailure);
    expect(bounded).toMatchObject({ type: CONSTANT_CONTACT_UNAVAILABLE, nonRetryable: true });
    expect(bounded.message).toContain(`${code} happened`);
    // A first attempt that fails (after running long) is one failure, not a streak.
    expect(boundUnavailable(failure(code, true), scheduled(10 * BOUND, 1), NOW, BOUND)).toMatchObject({ type: code, nonRetryable: false });
  }
});

test('throttling, final failures and failures that are not Constant Contact\'s are left as they are', () => {
  const old = scheduled(10 * BOUND);
  const throttled = failure('throttled', true);
  expect(boundUnavailable(throttled, old, NOW, BOUND)).toBe(throttled);
  const badRequest = failure('bad_request', false);
  expect(boundUnavailable(badRequest, old, NOW, BOUND)).toBe(badRequest);
  const other = new Error('a bug');
  expect(boundUnavailable(other, old, NOW, BOUND)).toBe(other);
});

test('every activity is bounded: a step failing with resets since long ago fails with constant_contact_unavailable', async () => {
  const activities = withUnavailableBound(
    {
      async reset(): Promise<void> {
        throw new ConstantContactError('network_error', 'no answer (ECONNRESET)', true);
      },
    },
    BOUND,
  );
  const fresh = new MockActivityEnvironment({ attempt: 1, scheduledTimestampMs: Date.now() });
  await expect(fresh.run(activities.reset)).rejects.toMatchObject({ type: 'network_error', nonRetryable: false });
  const failingLong = new MockActivityEnvironment({ attempt: 12, scheduledTimestampMs: Date.now() - BOUND - 1000 });
  await expect(failingLong.run(activities.reset)).rejects.toMatchObject({ type: CONSTANT_CONTACT_UNAVAILABLE, nonRetryable: true });
});
