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

/** Every activity the worker registers, built over the injected clients. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createExportRunActivities(deps),
    ...createScheduleActivities(deps),
    ...createMirrorActivities(deps),
    ...createWebhookActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
