import type { AppDeps } from '../deps';
import type { RouteRegistry } from '../http';
import { registerProfilesRoutes } from './profiles';
import { registerSegmentsRoutes } from './segments';
import { registerConnectionsRoutes } from './connections';
import { registerExportsRoutes } from './exports';
import { registerRunsRoutes } from './runs';
import { registerRemovalsRoutes } from './removals';
import { registerSchedulesRoutes } from './schedules';
import { registerAuditRoutes } from './audit';

export const routeModules: ((routes: RouteRegistry, deps: AppDeps) => void)[] = [
  registerProfilesRoutes,
  registerSegmentsRoutes,
  registerConnectionsRoutes,
  registerExportsRoutes,
  registerRunsRoutes,
  registerRemovalsRoutes,
  registerSchedulesRoutes,
  registerAuditRoutes,
];
