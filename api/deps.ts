import type { Client } from '@temporalio/client';
import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { ConstantContactApi } from '../constant-contact/types';
import type { Store } from '../store';

/** What the API needs from the outside; tests build it with real pieces on test ports. */
export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  /** Temporal client (lazy connection: the API starts while Temporal is down and /readyz says so). */
  temporal: Client;
  constantContact: ConstantContactApi;
  clock?: () => Date;
}
