import { timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { ApiError } from '../errors';
import { principalOf } from '../auth';
import type { RouteDeps } from '../deps';
import type { RouteRegistry } from '../http';

/**
 * GET /metrics: the API's metrics in Prometheus text format, for an admin key or the separate
 * METRICS_TOKEN (a scraper then needs no admin key).
 */
export function registerMetricsRoutes(routes: RouteRegistry, deps: RouteDeps): void {
  const token = deps.config.metrics.token ? Buffer.from(deps.config.metrics.token) : undefined;
  const isMetricsToken = (req: Request) => {
    const given = /^Bearer\s+(\S+)$/i.exec(req.header('authorization') ?? '')?.[1];
    return Boolean(token && given && given.length === token.length && timingSafeEqual(Buffer.from(given), token));
  };

  routes.add(
    {
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics of this API process (admin key or METRICS_TOKEN)',
      description:
        'Requests by route template and status, their latency, open connections, profile import rows and bytes, the Node.js process, and the runs and Constant Contact calls this process handled. Authorization: Bearer with an admin key or METRICS_TOKEN.',
      tag: 'operations',
      // Checked here: an admin key or the metrics token.
      roles: 'public',
      response: { status: 200, contentType: 'text/plain; version=0.0.4' },
      errors: { 401: 'neither an admin key nor METRICS_TOKEN', 403: 'a contributor key' },
    },
    async ({ req, res }) => {
      // A public route: the principal, if any, is read here (the metrics token is no API key).
      const role = principalOf(res)?.role;
      if (role !== 'admin' && !isMetricsToken(req)) {
        if (role) throw new ApiError(403, 'forbidden', 'metrics need an admin key or METRICS_TOKEN');
        throw new ApiError(401, 'unauthorized', 'metrics need Authorization: Bearer <admin key or METRICS_TOKEN>');
      }
      res.status(200).setHeader('content-type', deps.metrics.registry.contentType);
      res.end(await deps.metrics.registry.metrics());
      return undefined;
    },
  );
}
