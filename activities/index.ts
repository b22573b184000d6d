import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { ConstantContactApi } from '../constant-contact/types';
import type { Store } from '../store';
import { createExportRunActivities } from './exportRun';
import { createScheduleActivities } from './schedules';
import { createMirrorActivities } from './mirror';

/** What activities are built over; tests swap any piece (docs/architecture.md, "Conventions"). */
export interface ActivityDeps {
  config: Config;
  store: Store;
  constantContact: ConstantContactApi;
  logger: Logger;
  clock: () => Date;
}

/** Every activity the worker registers, built over the injected clients. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createExportRunActivities(deps),
    ...createScheduleActivities(deps),
    ...createMirrorActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
