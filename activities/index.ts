import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { ConstantContactApi } from '../constant-contact/types';
import type { Store } from '../store';

/** What activities are built over; tests swap any piece (architecture.md). */
export interface ActivityDeps {
  config: Config;
  store: Store;
  constantContact: ConstantContactApi;
  logger: Logger;
  clock: () => Date;
}

// eslint-disable-next-line @typescript-eslint/no-unused-vars
export function createActivities(deps: ActivityDeps) {
  return {};
}

export type Activities = ReturnType<typeof createActivities>;
