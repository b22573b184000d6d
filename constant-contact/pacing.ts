import { setTimeout as sleep } from 'node:timers/promises';
import type { RateLimitRepository } from '../store/rate-limits';
import { ConstantContactError } from './types';

export interface RateLimits {
  perSecond: number;
  perDay: number;
}

/** How long a call waited for its slot, and how many requests the day's budget has left after it. */
export interface Paced {
  waitedMs: number;
  remainingToday: number;
}

/** Waits for this process's slot in the shared budget of `key`. */
export type Pace = (key: string, limits: RateLimits) => Promise<Paced>;

/**
 * Request pacing shared by every process through the store, so that all workers together stay
 * within Constant Contact's per-key limits. It runs on the wall clock (not an injected one): the
 * slots are shared with other processes and it sleeps for real. A spent daily budget throws
 * daily_quota_exhausted with the time until it resets.
 */
export function createPacer(rateLimits: RateLimitRepository): Pace {
  return async function pace(key, limits) {
    const tolerance = rateLimits.intervalMs(limits.perSecond) - 1000 / limits.perSecond;
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      // A re-reservation after a late wake-up is not another request of the day.
      const r = await rateLimits.reserve(key, limits, Date.now(), { countDaily: attempt === 0 });
      if (r.exhausted) {
        throw new ConstantContactError(
          'daily_quota_exhausted',
          `the daily request budget of the Constant Contact application is spent; it resets at ${new Date(r.resetAtMs).toISOString()}`,
          true,
          Math.max(0, r.resetAtMs - Date.now()),
        );
      }
      const wait = r.sendAtMs - Date.now();
      if (wait > 0) await sleep(wait);
      // Sending late would crowd the slots reserved after ours: take a new slot instead.
      if (Date.now() - r.sendAtMs <= tolerance || attempt >= 5) {
        return { waitedMs: Math.max(0, Date.now() - started), remainingToday: Math.max(0, limits.perDay - r.usedToday) };
      }
    }
  };
}
