import { setTimeout as sleep } from 'node:timers/promises';
import express, { type Request, type Router } from 'express';
import type { SandboxContext } from './context';
import { arrivedAt, ccErrorHandler, notFound, sendCcError, sendThrottled, sendUnauthorized } from './http';
import type { AccessTokenInfo } from './oauth';
import { KeyRateLimiter } from './rate-limit';
import { activitiesRouter } from './v3/activities';
import { contactExportsRouter } from './v3/contact-exports';
import { contactsRouter } from './v3/contacts';
import { customFieldsRouter } from './v3/custom-fields';
import { importsRouter } from './v3/imports';
import { listsRouter } from './v3/lists';

/**
 * The /v3 API of the sandbox: the resources (one router each under v3/: lists, custom fields, bulk
 * activities, contact exports, contacts) behind bearer auth, the per application key rate limits
 * and the injected faults.
 */

const NAMED = new Set(['contacts_json_import', 'remove_list_memberships', 'contact_exports']);
const WITH_ID = new Set(['contact_lists', 'activities', 'contact_exports', 'contacts', 'contact_custom_fields']);

/** Route pattern of a /v3 path, for stats.byRoute. */
export function routeKey(method: string, path: string): string {
  const parts = path.split('/').filter(Boolean);
  if (path === '/account/summary') return `${method} /v3/account/summary`;
  if (parts.length === 1 && WITH_ID.has(parts[0])) return `${method} /v3/${parts[0]}`;
  if (parts.length === 2 && WITH_ID.has(parts[0])) return `${method} /v3/${parts[0]}/${NAMED.has(parts[1]) ? parts[1] : ':id'}`;
  return `${method} /v3/(other)`;
}

type AuthedRequest = Request & { token?: AccessTokenInfo };

/** The time (ms since the epoch, sandbox clock) a /v3 request arrived, on its answer. */
export const ARRIVED_AT_HEADER = 'x-sandbox-arrived-at';

export function apiRouter(ctx: SandboxContext): Router {
  const { state, options } = ctx;
  const router = express.Router();

  // Arrival: stats, network-level faults (latency, connection reset). The arrival time is also sent
  // back (a sandbox-only header) so that a client can compare it with the time it sent the request.
  router.use(async (req, res, next) => {
    const now = arrivedAt(res);
    res.setHeader(ARRIVED_AT_HEADER, String(now));
    state.stats.requests++;
    const key = routeKey(req.method, req.path);
    state.stats.byRoute[key] = (state.stats.byRoute[key] ?? 0) + 1;
    const inSecond = ctx.arrivals.add(now);
    if (inSecond > state.stats.maxRequestsInOneSecond) state.stats.maxRequestsInOneSecond = inSecond;
    const { latencyMs, resetRate } = ctx.faults;
    if (latencyMs > 0) await sleep(latencyMs);
    if (resetRate > 0 && options.random() < resetRate) {
      state.stats.injectedResets++;
      req.socket.destroy();
      return;
    }
    next();
  });

  // Bearer token, then the per application key limits.
  router.use((req: AuthedRequest, res, next) => {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    const token = match ? ctx.oauth.verifyAccessToken(match[1]) : undefined;
    if (!token) {
      state.stats.unauthorized++;
      return sendUnauthorized(res);
    }
    req.token = token;
    let limiter = ctx.limiters.get(token.clientId);
    if (!limiter) {
      limiter = new KeyRateLimiter(ctx.limits.ratePerSecond, ctx.limits.ratePerDay);
      ctx.limiters.set(token.clientId, limiter);
    }
    const decision = limiter.take(arrivedAt(res));
    if (!decision.ok) {
      state.stats.throttled++;
      if (decision.reason === 'per_second') state.stats.throttledPerSecond++;
      else state.stats.throttledPerDay++;
      return sendThrottled(res);
    }
    // Account routes need account_read (or account_update); the others contact_data.
    const account = req.path.startsWith('/account');
    if (account ? !token.scopes.has('account_read') && !token.scopes.has('account_update') : !token.scopes.has('contact_data')) {
      return sendCcError(res, 403, 'forbidden', `The access token lacks the '${account ? 'account_read' : 'contact_data'}' scope.`);
    }
    const { throttleRate, errorRate } = ctx.faults;
    if (throttleRate > 0 && options.random() < throttleRate) {
      state.stats.throttled++;
      state.stats.injectedThrottles++;
      return sendThrottled(res);
    }
    if (errorRate > 0 && options.random() < errorRate) {
      state.stats.injectedErrors++;
      return options.random() < 0.5
        ? sendCcError(res, 500, 'server_error', 'Internal server error (injected).')
        : sendCcError(res, 503, 'service_unavailable', 'Service unavailable (injected).');
    }
    next();
  });

  router.get('/account/summary', (req: AuthedRequest, res) => {
    res.json({ encoded_account_id: req.token!.accountId, organization_name: 'Sandbox organization', country_code: 'US', time_zone_id: 'America/New_York' });
  });
  router.use(listsRouter(ctx));
  router.use(customFieldsRouter(ctx));
  router.use(importsRouter(ctx));
  router.use(activitiesRouter(ctx));
  router.use(contactExportsRouter(ctx));
  router.use(contactsRouter(ctx));
  router.use((_req, _res) => {
    throw notFound('No such resource.');
  });
  router.use(ccErrorHandler);
  return router;
}
