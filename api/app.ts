import { randomUUID, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ApiError, toApiError } from './errors';
import type { Role } from '../store/types';
import { createConsole } from './console';
import type { AppDeps, RouteDeps } from './deps';
import { createApiMetrics } from './metrics';
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
  app.use(requestId);
  app.use(requestLog(deps));
  app.use(authenticate(deps));
  app.use(webConsole.authenticate);
  app.use(rejectNonJsonBodies);
  app.use(express.json({ limit: '1mb', strict: true, type: ['application/json', 'application/*+json'] }));

  const router = express.Router();
  const routes = new RouteRegistry(router);
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

function requestLog(deps: AppDeps) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // The path only: query strings can carry OAuth codes, states and tickets.
      deps.logger.info(
        { requestId: res.locals.requestId, method: req.method, path: req.path, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 },
        'request',
      );
    });
    next();
  };
}

function authenticate(deps: AppDeps) {
  const keys = (deps.config.apiKeys ?? []).map((k) => ({ role: k.role, key: Buffer.from(k.key) }));
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.header('authorization');
    const match = header?.match(/^Bearer\s+(\S+)$/i);
    if (match) {
      const given = Buffer.from(match[1]);
      const found = keys.find((k) => k.key.length === given.length && timingSafeEqual(k.key, given));
      if (found) res.locals.role = found.role satisfies Role;
    }
    next();
  };
}

/** A body with another content type than JSON reaches only routes that read raw streams (they check it themselves). */
function rejectNonJsonBodies(req: Request, _res: Response, next: NextFunction): void {
  const hasBody = Number(req.header('content-length') ?? 0) > 0 || req.header('transfer-encoding') !== undefined;
  if (!hasBody || req.is(['application/json', 'application/*+json'])) return next();
  if (req.is(['application/x-ndjson', 'text/csv']) && req.path === '/v1/profiles/import') return next();
  next(new ApiError(415, 'unsupported_media_type', 'send the body as application/json'));
}

function errorHandler(deps: AppDeps) {
  // Express recognises error middleware by its four parameters.
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const requestId = res.locals.requestId as string;
    const apiError = toApiError(err);
    if (apiError.status >= 500) deps.logger.error({ requestId, err: errorSummary(err) }, 'request failed');
    if (res.headersSent) return res.end();
    res.status(apiError.status).json({
      error: {
        code: apiError.code,
        message: apiError.message,
        ...(apiError.details ? { details: apiError.details } : {}),
        requestId,
      },
    });
  };
}

/** Name and message only: a stack or cause could carry request data. */
function errorSummary(err: unknown) {
  return err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : { value: String(err) };
}
