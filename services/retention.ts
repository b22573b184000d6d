import type { Logger } from '../common/logger';
import type { Store } from '../store';

/**
 * Personal data of runs (rejects: profile ids with the value that was not sent) is kept for
 * PERSONAL_DATA_RETENTION_DAYS after its run ended, then deleted. Every worker runs this job on a
 * timer; the store hands each due turn to exactly one of them (`claimDueJob`), so N workers delete
 * once an hour, not N times. A plain timer rather than a Temporal Schedule: the job is one store
 * statement per run, idempotent, and a missed turn is made up by the next; it needs no history.
 */

export const RETENTION_JOB = 'personal-data-retention';
const DAY_MS = 86_400_000;

export interface RetentionDeps {
  store: Store;
  logger: Logger;
  retentionDays: number;
  now?: () => number;
}

/** One turn: when due (not run within `intervalMs` by any process), deletes what is past retention. */
export async function purgeExpiredPersonalData(deps: RetentionDeps, intervalMs: number): Promise<number | undefined> {
  const now = (deps.now ?? Date.now)();
  if (!(await deps.store.personalData.claimDueJob(RETENTION_JOB, intervalMs, now))) return undefined;
  const cutoff = new Date(now - deps.retentionDays * DAY_MS).toISOString();
  const deleted = await deps.store.personalData.purgeEndedBefore(cutoff);
  deps.logger.info({ deleted, retentionDays: deps.retentionDays }, 'personal data past retention deleted');
  return deleted;
}

/** Runs the job now and then every `checkEveryMs` until stopped; a failed turn is logged and tried again later. */
export function startRetentionJob(deps: RetentionDeps, options: { intervalMs?: number; checkEveryMs?: number } = {}): { stop(): void } {
  const intervalMs = options.intervalMs ?? 60 * 60_000;
  const turn = () =>
    purgeExpiredPersonalData(deps, intervalMs).catch((err: unknown) =>
      deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'personal data retention did not run; trying again later'),
    );
  void turn();
  const timer = setInterval(turn, options.checkEveryMs ?? 5 * 60_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
