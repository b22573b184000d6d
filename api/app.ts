import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ApiError, sendError, toApiError } from './errors';
import type { AppDeps, RouteDeps } from './deps';
import { createConsole } from './console';
import { createApiMetrics } from './metrics';
import { apiKeyCredential, authenticate, principalOf } from './auth';
import { watchBodies } from './body-watchdog';
import { RequestRateLimiter } from './rate-limit';
import type { NewAuditEntry } from '../store/audit';
import { RouteRegistry } from './http';
import { registerHealthRoutes } from './routes/health';
import { routeModules } from './routes';
import { createScheduleExportHooks } from './routes/schedules';

/** The API as an app factory, apart from the listener (api/main.ts), so tests drive it on any port. */
export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (deps.config.trustProxy) app.set('trust proxy', true);
  const webConsole = createConsole(deps);
  const metrics = deps.metrics ?? createApiMetrics();

  app.use(metrics.observeRequests);
  // No middleware here reads a body: each route admits its caller first (api/http.ts).
  app.use(requestId);
  app.use(watchBodies(deps.config.api));
  app.use(authenticate([apiKeyCredential(deps.config.apiKeys ?? []), webConsole.credential]));
  app.use(requestLog(deps));

  const router = express.Router();
  const rateLimiter = new RequestRateLimiter(deps.config.api.rateLimitPerSecond, deps.config.api.rateLimitBurst);
  const routes = new RouteRegistry(router, { rateLimiter, audit: auditRecorder(deps) });
  registerHealthRoutes(routes, deps);
  // Unless told otherwise, saving or deleting an export keeps its Temporal Schedule in step.
  const routeDeps: RouteDeps = { ...deps, metrics, exportHooks: deps.exportHooks ?? createScheduleExportHooks(deps) };
  for (const register of routeModules) register(routes, routeDeps);
  webConsole.register(router, routes);
  app.use(router);

  app.use((_req: Request, _res: Response, next: NextFunction) => next(new ApiError(404, 'not_found', 'no such route')));
  app.use(errorHandler(deps));
  return app;
}

function requestId(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.header('x-request-id');
  const id = incoming && /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
  res.locals.requestId = id;
  res.setHeader('x-request-id', id);
  next();
}

/** A change is done when its audit entry fails: the failure is logged, the answer stays. */
function auditRecorder(deps: AppDeps) {
  return async (entry: NewAuditEntry) => {
    try {
      await deps.store.audit.record(entry);
    } catch (err) {
      deps.logger.error({ requestId: entry.requestId, action: entry.action, err: err instanceof Error ? err.message : String(err) }, 'audit entry not recorded');
    }
  };
}

/** One line per request, with who called: the credential's fingerprint and role, never the credential. */
function requestLog(deps: AppDeps) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const principal = principalOf(res);
      // The path only: query strings can carry OAuth codes, states and tickets.
      deps.logger.info(
        {
          requestId: res.locals.requestId,
          method: req.method,
          path: req.path,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          ...(principal ? { key: principal.fingerprint, role: principal.role } : res.locals.credentialRefused ? { key: 'refused' } : {}),
        },
        'request',
      );
    });
    next();
  };
}

function errorHandler(deps: AppDeps) {
  // Express recognises error middleware by its four parameters.
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const requestId = res.locals.requestId as string;
    const apiError = toApiError(err);
    if (apiError.status >= 500) deps.logger.error({ requestId, err: errorSummary(err) }, 'request failed');
    if (res.headersSent) return res.end();
    // A body still arriving was refused unread: close rather than read it to its end.
    sendError(res, apiError, { close: !req.complete });
  };
}

/** Name and message only: a stack or cause could carry request data. */
function errorSummary(err: unknown) {
  return err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : { value: String(err) };
}
