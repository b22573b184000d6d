import type { Client } from '@temporalio/client';
import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { Store } from '../store';
import type { ProductMetrics } from './metrics';

/** What the run services work with: the store and a Temporal client (the API's, or an activity's). */
export interface RunsDeps {
  config: Config;
  store: Store;
  temporal: Client;
  logger?: Logger;
  clock?: () => Date;
  /** Where run ends and Constant Contact calls are counted (none when absent). */
  metrics?: ProductMetrics;
}

export const nowOf = (deps: { clock?: () => Date }): Date => (deps.clock ?? (() => new Date()))();
