import type { Router } from 'express';
import type { AppDeps } from '../deps';
import type { RouteRegistry } from '../http';
import { CONSOLE_PATH, consoleAssets } from './assets';
import { consoleSessions } from './session';

/**
 * The web console, served by the API at /console: its files, and the session sign-in that lets a
 * browser use the same /v1 API (same roles) with a cookie instead of a Bearer key.
 */
export function createConsole(deps: AppDeps) {
  const sessions = consoleSessions(deps);
  return {
    /** A credential kind asked after API keys, before any body is read. */
    credential: sessions.credential,
    register(router: Router, routes: RouteRegistry): void {
      sessions.register(routes);
      router.use(CONSOLE_PATH, consoleAssets());
    },
  };
}
