import type { AppDeps } from '../deps';
import type { RouteRegistry } from '../http';

// eslint-disable-next-line @typescript-eslint/no-unused-vars
export function registerSchedulesRoutes(routes: RouteRegistry, deps: AppDeps): void {}
