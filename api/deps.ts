import type { Client } from '@temporalio/client';
import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { ConstantContactApi } from '../constant-contact/types';
import type { Export, Store } from '../store';
import type { ApiMetrics } from './metrics';

/** What the API needs from the outside; tests build it with real pieces on test ports. */
export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  /** Temporal client (lazy connection: the API starts while Temporal is down and /readyz says so). */
  temporal: Client;
  constantContact: ConstantContactApi;
  clock?: () => Date;
  /** Told after an export is saved or deleted (the schedules keep their Temporal Schedules in step). */
  exportHooks?: ExportHooks;
  /** The app's metrics (GET /metrics); createApp makes them when absent. */
  metrics?: ApiMetrics;
}

/** What route modules get: the app's deps with its metrics. */
export type RouteDeps = AppDeps & { metrics: ApiMetrics };

/**
 * Called after the store change is committed. `onExportSaved` also follows a connection removed
 * with detachExports=true (the export then has `connectionId: null` and must not run). A hook that
 * throws fails the request with its error (an ApiError keeps its status); the store change stays.
 */
export interface ExportHooks {
  onExportSaved?(exp: Export, change: 'created' | 'updated' | 'detached'): Promise<void>;
  onExportDeleted?(exp: Export): Promise<void>;
}
