import type { RouteDeps } from '../deps';
import type { RouteRegistry } from '../http';
import { registerProfilesRoutes } from './profiles';
import { registerSegmentsRoutes } from './segments';
import { registerConnectionsRoutes } from './connections';
import { registerExportsRoutes } from './exports';
import { registerRunsRoutes, registerSuppressionsRoute } from './runs';
import { registerRemovalsRoutes } from './removals';
import { registerSchedulesRoutes } from './schedules';
import { registerWebhooksRoutes } from './webhooks';
import { registerMetricsRoutes } from './metrics';
import { registerAlertsRoutes } from './alerts';
import { registerAuditRoutes } from './audit';

export const routeModules: ((routes: RouteRegistry, deps: RouteDeps) => void)[] = [
  registerProfilesRoutes,
  registerSegmentsRoutes,
  registerConnectionsRoutes,
  registerExportsRoutes,
  registerRunsRoutes,
  registerSuppressionsRoute,
  registerRemovalsRoutes,
  registerSchedulesRoutes,
  registerWebhooksRoutes,
  registerAlertsRoutes,
  registerMetricsRoutes,
  registerAuditRoutes,
];
