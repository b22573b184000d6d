import type { Client } from '@temporalio/client';
import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { ConstantContactApi } from '../constant-contact/types';
import type { ProductMetrics } from '../services/metrics';
import type { Store } from '../store';
import { createExportRunActivities } from './exportRun';
import { createScheduleActivities } from './schedules';
import { createMirrorActivities } from './mirror';
import { createWebhookActivities } from './webhooks';
import { withUnavailableBound } from './failures';

/** What activities are built over; tests swap any piece (docs/architecture.md, "Conventions"). */
export interface ActivityDeps {
  config: Config;
  store: Store;
  constantContact: ConstantContactApi;
  logger: Logger;
  clock: () => Date;
  /** Starts the workflows that deliver events to webhooks (the worker's client). */
  temporal: Client;
  metrics?: ProductMetrics;
}

/**
 * Every activity the worker registers, built over the injected clients. A step that Constant
 * Contact keeps failing fails for good after CC_UNAVAILABLE_AFTER_SECONDS (activities/failures.ts).
 */
export function createActivities(deps: ActivityDeps) {
  const activities = {
    ...createExportRunActivities(deps),
    ...createScheduleActivities(deps),
    ...createMirrorActivities(deps),
    ...createWebhookActivities(deps),
  };
  return withUnavailableBound(activities, deps.config.runs.constantContactUnavailableAfterMs);
}

export type Activities = ReturnType<typeof createActivities>;
