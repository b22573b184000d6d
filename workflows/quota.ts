import { ActivityFailure, ApplicationFailure, setCurrentDetails, sleep } from '@temporalio/workflow';
import { DAILY_QUOTA_EXHAUSTED } from '../services/contracts';

/**
 * The one wait for Constant Contact's daily request quota, for every workflow that calls it. The
 * activity's failure says when the quota resets (the client always knows: 00:00 UTC of its budget);
 * the workflow waits on a durable timer until a few seconds after that, then runs the step again.
 */

/**
 * A failure without a reset time (none today) looks again in an hour: at most about 25 looks a
 * day, so the history stays small, and one wasted look costs a local check of the budget, not a
 * request to Constant Contact.
 */
const UNKNOWN_RESET_WAIT_MS = 60 * 60 * 1000;
/** After the reset, so the next step does not find the old day's budget. */
const MARGIN_MS = 5000;
const MAX_WAIT_MS = 25 * 60 * 60 * 1000;

/** How long to wait when the failure is the spent daily quota; undefined for any other failure. */
export function quotaWaitMs(err: unknown): number | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (!(cause instanceof ApplicationFailure) || cause.type !== DAILY_QUOTA_EXHAUSTED) return undefined;
  const detail = cause.details?.[0] as { retryAfterMs?: unknown } | undefined;
  const ms = typeof detail?.retryAfterMs === 'number' ? detail.retryAfterMs + MARGIN_MS : UNKNOWN_RESET_WAIT_MS;
  return Math.max(1000, Math.min(ms, MAX_WAIT_MS));
}

/** What the run shows while it waits: `waiting` records phase waiting-for-quota, `resumed` the phase it was in. */
export interface QuotaPhases {
  waiting(): Promise<void>;
  resumed(): Promise<void>;
}

/** Runs a step; while Constant Contact's daily quota is spent, waits until it resets and runs it again. */
export async function withQuotaWait<T>(step: () => Promise<T>, phases: QuotaPhases): Promise<T> {
  for (;;) {
    try {
      return await step();
    } catch (err) {
      const waitMs = quotaWaitMs(err);
      if (waitMs === undefined) throw err;
      await phases.waiting();
      setCurrentDetails(`Waiting for Constant Contact's daily request quota to reset (${Math.ceil(waitMs / 60_000)} min)`);
      await sleep(waitMs, { summary: 'daily quota reset' });
      await phases.resumed();
    }
  }
}
