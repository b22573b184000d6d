import express from 'express';
import { RouteRegistry } from '../../api/http';
import { registerConnectionsRoutes } from '../../api/routes/connections';
import { registerExportsRoutes } from '../../api/routes/exports';
import { registerAlertsRoutes } from '../../api/routes/alerts';
import { registerMetricsRoutes } from '../../api/routes/metrics';
import { registerWebhooksRoutes } from '../../api/routes/webhooks';
import type { RouteDeps } from '../../api/deps';
import { registerAuditRoutes } from '../../api/routes/audit';
import { registerSuppressionsRoute } from '../../api/routes/runs';
import { newId } from '../../common/ids';
import { connectSandboxConnection, createTestApp, type TestApp, type TestResponse } from '../helpers/app';
import { storeKinds } from '../helpers/stores';
import { exportBody, insertSegment } from '../exports/fixtures';

/**
 * Every route of connections, exports (with their alert thresholds), webhooks, /metrics and the audit
 * log, called by an admin, a contributor, a caller without a key and one with an unknown key.
 * Contributors see only connections shared with them (usableBy admins-and-contributors) and the
 * exports on those; anything else answers 404, as if absent. Webhooks, metrics and the audit log are
 * for admins only.
 */

type Who = 'admin' | 'contributor' | 'none' | 'unknown key';
const WHO: Who[] = ['admin', 'contributor', 'none', 'unknown key'];

interface Ctx {
  app: TestApp;
  shared: string;
  adminOnly: string;
  segmentId: string;
  exportOnShared: string;
  exportOnAdminOnly: string;
  webhookId: string;
}

interface Call {
  method: string;
  path: string;
  body?: unknown;
}

interface Row {
  /** METHOD and Express path of the route. */
  route: string;
  what: string;
  /** Builds the request (fresh resources for destructive calls). */
  call: (ctx: Ctx) => Promise<Call> | Call;
  expect: Record<Who, number>;
  /** Extra checks of a successful answer. */
  check?: (who: Who, res: TestResponse, ctx: Ctx) => void;
}

const protectedRoute = (admin: number, contributor: number) => ({ admin, contributor, none: 401, 'unknown key': 401 });
const publicRoute = (status: number) => ({ admin: status, contributor: status, none: status, 'unknown key': status });

/** A public address literal: registering it needs no DNS and passes the private-address guard. */
const webhookBody = { url: 'https://93.184.216.34/hooks/segment-export', events: ['run.failed', 'run.alert'] };

async function pendingConnection(ctx: Ctx): Promise<{ id: string; authorizeUrl: string }> {
  const res = await ctx.app.as('admin').post('/v1/connections', { displayName: 'Throwaway', dataPrivacyConsent: true });
  expect(res.status).toBe(201);
  return res.body;
}

const rows: Row[] = [
  {
    route: 'POST /v1/connections',
    what: 'create',
    call: () => ({ method: 'POST', path: '/v1/connections', body: { displayName: 'New', usableBy: 'admins', dataPrivacyConsent: true } }),
    expect: protectedRoute(201, 403),
  },
  {
    route: 'GET /v1/connections',
    what: 'list',
    call: () => ({ method: 'GET', path: '/v1/connections?limit=500' }),
    expect: protectedRoute(200, 200),
    check: (who, res, ctx) => {
      const ids = res.body.items.map((c: { id: string }) => c.id);
      expect(ids).toContain(ctx.shared);
      if (who === 'admin') {
        expect(ids).toContain(ctx.adminOnly);
        expect(res.body.items.find((c: { id: string }) => c.id === ctx.shared)).toMatchObject({ status: 'connected', usableBy: 'admins-and-contributors' });
      } else {
        expect(ids).not.toContain(ctx.adminOnly);
        for (const item of res.body.items) expect(Object.keys(item).sort()).toEqual(['displayName', 'id']);
      }
    },
  },
  {
    route: 'GET /v1/connections/:id',
    what: 'read a shared connection',
    call: (ctx) => ({ method: 'GET', path: `/v1/connections/${ctx.shared}` }),
    expect: protectedRoute(200, 200),
    check: (who, res, ctx) => {
      if (who === 'contributor') expect(res.body).toEqual({ id: ctx.shared, displayName: 'Shared' });
      else expect(res.body).toMatchObject({ id: ctx.shared, status: 'connected', usableBy: 'admins-and-contributors' });
    },
  },
  {
    route: 'GET /v1/connections/:id',
    what: 'read an admins-only connection',
    call: (ctx) => ({ method: 'GET', path: `/v1/connections/${ctx.adminOnly}` }),
    expect: protectedRoute(200, 404),
  },
  {
    route: 'PATCH /v1/connections/:id',
    what: 'change a shared connection',
    call: (ctx) => ({ method: 'PATCH', path: `/v1/connections/${ctx.shared}`, body: { displayName: 'Shared' } }),
    expect: protectedRoute(200, 403),
  },
  {
    route: 'DELETE /v1/connections/:id',
    what: 'remove a connection',
    call: async (ctx) => ({ method: 'DELETE', path: `/v1/connections/${(await pendingConnection(ctx)).id}` }),
    expect: protectedRoute(204, 403),
  },
  {
    route: 'POST /v1/connections/:id/reauthorize',
    what: 're-authorize a shared connection',
    call: (ctx) => ({ method: 'POST', path: `/v1/connections/${ctx.shared}/reauthorize` }),
    expect: protectedRoute(200, 403),
  },
  {
    route: 'GET /v1/connections/:id/authorize',
    what: "the browser's authorize link (public: the ticket is the credential)",
    call: async (ctx) => {
      const url = new URL((await pendingConnection(ctx)).authorizeUrl);
      return { method: 'GET', path: url.pathname + url.search };
    },
    expect: publicRoute(302),
  },
  {
    route: 'GET /v1/oauth/constant-contact/callback',
    what: "Constant Contact's redirect back (public: the state is the credential)",
    call: async (ctx) => {
      const url = new URL((await pendingConnection(ctx)).authorizeUrl);
      const authorize = await ctx.app.requester(undefined).get(url.pathname + url.search);
      const approved = await fetch(authorize.headers.get('location')!, { redirect: 'manual' });
      const callback = new URL(approved.headers.get('location')!);
      ctx.app.secrets.add(callback.searchParams.get('code')!);
      return { method: 'GET', path: callback.pathname + callback.search };
    },
    expect: publicRoute(200),
  },
  {
    route: 'GET /v1/connections/:id/lists',
    what: 'lists of a shared connection',
    call: (ctx) => ({ method: 'GET', path: `/v1/connections/${ctx.shared}/lists` }),
    expect: protectedRoute(200, 200),
    check: (_who, res) => expect(res.body.items.length).toBeGreaterThan(0),
  },
  {
    route: 'GET /v1/connections/:id/lists',
    what: 'lists of an admins-only connection',
    call: (ctx) => ({ method: 'GET', path: `/v1/connections/${ctx.adminOnly}/lists` }),
    expect: protectedRoute(200, 404),
  },
  {
    route: 'GET /v1/connections/:id/custom-fields',
    what: 'custom fields of a shared connection',
    call: (ctx) => ({ method: 'GET', path: `/v1/connections/${ctx.shared}/custom-fields` }),
    expect: protectedRoute(200, 200),
  },
  {
    route: 'GET /v1/connections/:id/custom-fields',
    what: 'custom fields of an admins-only connection',
    call: (ctx) => ({ method: 'GET', path: `/v1/connections/${ctx.adminOnly}/custom-fields` }),
    expect: protectedRoute(200, 404),
  },
  {
    route: 'POST /v1/exports',
    what: 'create an export on a shared connection',
    call: (ctx) => ({ method: 'POST', path: '/v1/exports', body: exportBody(ctx.shared, [ctx.segmentId]) }),
    expect: protectedRoute(201, 201),
  },
  {
    route: 'POST /v1/exports',
    what: 'create an export on an admins-only connection',
    call: (ctx) => ({ method: 'POST', path: '/v1/exports', body: exportBody(ctx.adminOnly, [ctx.segmentId]) }),
    expect: protectedRoute(201, 404),
  },
  {
    route: 'GET /v1/exports',
    what: 'list exports',
    call: () => ({ method: 'GET', path: '/v1/exports?limit=500' }),
    expect: protectedRoute(200, 200),
    check: (who, res, ctx) => {
      const ids = res.body.items.map((e: { id: string }) => e.id);
      expect(ids).toContain(ctx.exportOnShared);
      if (who === 'admin') expect(ids).toContain(ctx.exportOnAdminOnly);
      else expect(ids).not.toContain(ctx.exportOnAdminOnly);
    },
  },
  {
    route: 'GET /v1/exports/:id',
    what: 'read an export on a shared connection',
    call: (ctx) => ({ method: 'GET', path: `/v1/exports/${ctx.exportOnShared}` }),
    expect: protectedRoute(200, 200),
  },
  {
    route: 'GET /v1/exports/:id',
    what: 'read an export on an admins-only connection',
    call: (ctx) => ({ method: 'GET', path: `/v1/exports/${ctx.exportOnAdminOnly}` }),
    expect: protectedRoute(200, 404),
  },
  {
    route: 'PATCH /v1/exports/:id',
    what: 'change an export on a shared connection',
    call: (ctx) => ({ method: 'PATCH', path: `/v1/exports/${ctx.exportOnShared}`, body: { name: 'Renamed' } }),
    expect: protectedRoute(200, 200),
  },
  {
    route: 'PATCH /v1/exports/:id',
    what: 'switch an export on a shared connection to mirror mode (an admin decision)',
    call: async (ctx) => {
      const res = await ctx.app.as('admin').post('/v1/exports', exportBody(ctx.shared, [ctx.segmentId]));
      return { method: 'PATCH', path: `/v1/exports/${res.body.id}`, body: { syncMode: 'mirror' } };
    },
    expect: protectedRoute(200, 403),
  },
  {
    route: 'PATCH /v1/exports/:id',
    what: 'change an export on an admins-only connection',
    call: (ctx) => ({ method: 'PATCH', path: `/v1/exports/${ctx.exportOnAdminOnly}`, body: { syncMode: 'mirror' } }),
    expect: protectedRoute(200, 404),
  },
  {
    route: 'DELETE /v1/exports/:id',
    what: 'remove an export on a shared connection',
    call: async (ctx) => {
      const res = await ctx.app.as('admin').post('/v1/exports', exportBody(ctx.shared, [ctx.segmentId]));
      return { method: 'DELETE', path: `/v1/exports/${res.body.id}` };
    },
    expect: protectedRoute(204, 204),
  },
  {
    route: 'DELETE /v1/exports/:id',
    what: 'remove an export on an admins-only connection',
    call: async (ctx) => {
      const res = await ctx.app.as('admin').post('/v1/exports', exportBody(ctx.adminOnly, [ctx.segmentId]));
      return { method: 'DELETE', path: `/v1/exports/${res.body.id}` };
    },
    expect: protectedRoute(204, 404),
  },
  {
    route: 'GET /v1/exports/:id/alerts',
    what: "alert thresholds of an export on a shared connection",
    call: (ctx) => ({ method: 'GET', path: `/v1/exports/${ctx.exportOnShared}/alerts` }),
    expect: protectedRoute(200, 200),
    check: (_who, res) => expect(res.body.defaults).toEqual({ rejectedPercent: 50, runDurationMinutes: 120, segmentChangePercent: 50 }),
  },
  {
    route: 'GET /v1/exports/:id/alerts',
    what: 'alert thresholds of an export on an admins-only connection',
    call: (ctx) => ({ method: 'GET', path: `/v1/exports/${ctx.exportOnAdminOnly}/alerts` }),
    expect: protectedRoute(200, 404),
  },
  {
    route: 'PUT /v1/exports/:id/alerts',
    what: 'set the alert thresholds of an export on a shared connection',
    call: (ctx) => ({ method: 'PUT', path: `/v1/exports/${ctx.exportOnShared}/alerts`, body: { rejectedPercent: 20 } }),
    expect: protectedRoute(200, 200),
    check: (_who, res) => expect(res.body.effective).toEqual({ rejectedPercent: 20, runDurationMinutes: 120, segmentChangePercent: 50 }),
  },
  {
    route: 'PUT /v1/exports/:id/alerts',
    what: 'set the alert thresholds of an export on an admins-only connection',
    call: (ctx) => ({ method: 'PUT', path: `/v1/exports/${ctx.exportOnAdminOnly}/alerts`, body: { rejectedPercent: 20 } }),
    expect: protectedRoute(200, 404),
  },
  {
    route: 'POST /v1/webhooks',
    what: 'register a webhook',
    call: () => ({ method: 'POST', path: '/v1/webhooks', body: webhookBody }),
    expect: protectedRoute(201, 403),
    check: (_who, res) => expect(res.body.secret).toMatch(/^whsec_/),
  },
  {
    route: 'GET /v1/webhooks',
    what: 'list webhooks',
    call: () => ({ method: 'GET', path: '/v1/webhooks' }),
    expect: protectedRoute(200, 403),
    check: (_who, res, ctx) => {
      expect(res.body.items.map((w: { id: string }) => w.id)).toContain(ctx.webhookId);
      expect(res.text).not.toContain('whsec_');
    },
  },
  {
    route: 'GET /v1/webhooks/:id',
    what: 'read a webhook',
    call: (ctx) => ({ method: 'GET', path: `/v1/webhooks/${ctx.webhookId}` }),
    expect: protectedRoute(200, 403),
    check: (_who, res) => expect(res.body).not.toHaveProperty('secret'),
  },
  {
    route: 'GET /v1/webhooks/:id/deliveries',
    what: "a webhook's deliveries",
    call: (ctx) => ({ method: 'GET', path: `/v1/webhooks/${ctx.webhookId}/deliveries` }),
    expect: protectedRoute(200, 403),
  },
  {
    route: 'DELETE /v1/webhooks/:id',
    what: 'delete a webhook',
    call: async (ctx) => ({ method: 'DELETE', path: `/v1/webhooks/${(await ctx.app.as('admin').post('/v1/webhooks', webhookBody)).body.id}` }),
    expect: protectedRoute(204, 403),
  },
  {
    route: 'GET /metrics',
    what: 'Prometheus metrics (admin key; METRICS_TOKEN is tested with the metrics)',
    call: () => ({ method: 'GET', path: '/metrics' }),
    expect: protectedRoute(200, 403),
  },
  {
    route: 'GET /v1/audit',
    what: 'read the audit log',
    call: () => ({ method: 'GET', path: '/v1/audit?limit=500' }),
    expect: protectedRoute(200, 403),
    check: (_who, res) => expect(res.body.items.length).toBeGreaterThan(0),
  },
  // Routes that hand out personal data of runs (admins only): one row each, their module in registeredRoutes below.
  {
    route: 'GET /v1/runs/:id/suppressions',
    what: "read a run's suppressions (raw emails) on a shared connection's export",
    call: async (ctx) => {
      const runId = newId('run');
      await ctx.app.store.runs.createSkipped({ id: runId, exportId: ctx.exportOnShared, trigger: 'on-demand', workflowId: '', startedAt: new Date().toISOString() }, { code: 'test', message: 'a run to read' });
      return { method: 'GET', path: `/v1/runs/${runId}/suppressions` };
    },
    expect: protectedRoute(200, 403),
  },
];

/** The routes the modules under test register, read from their own registry. */
function registeredRoutes(): string[] {
  const registry = new RouteRegistry(express.Router());
  const deps = {} as RouteDeps;
  registerConnectionsRoutes(registry, deps);
  registerExportsRoutes(registry, deps);
  registerAlertsRoutes(registry, deps);
  registerWebhooksRoutes(registry, deps);
  registerMetricsRoutes(registry, { config: { metrics: {} } } as RouteDeps);
  registerAuditRoutes(registry, deps);
  registerSuppressionsRoute(registry, deps);
  return registry.routes.map((r) => `${r.spec.method.toUpperCase()} ${r.spec.path}`).sort();
}

it('the role matrix covers every route of connections, exports, export alerts, webhooks, metrics, the audit log and run suppressions', () => {
  expect([...new Set(rows.map((r) => r.route))].sort()).toEqual(registeredRoutes());
});

describe.each(storeKinds)('role matrix (%s)', (kind) => {
  const ctx = {} as Ctx;

  beforeAll(async () => {
    ctx.app = await createTestApp({ kind });
    ctx.shared = await connectSandboxConnection(ctx.app, { displayName: 'Shared', usableBy: 'admins-and-contributors' });
    ctx.adminOnly = await connectSandboxConnection(ctx.app, { displayName: 'Admins only', usableBy: 'admins' });
    ctx.segmentId = await insertSegment(ctx.app);
    ctx.exportOnShared = (await ctx.app.as('admin').post('/v1/exports', exportBody(ctx.shared, [ctx.segmentId]))).body.id;
    ctx.exportOnAdminOnly = (await ctx.app.as('admin').post('/v1/exports', exportBody(ctx.adminOnly, [ctx.segmentId]))).body.id;
    ctx.webhookId = (await ctx.app.as('admin').post('/v1/webhooks', webhookBody)).body.id;
  });
  afterAll(async () => {
    await ctx.app?.close();
  });

  const table = rows.flatMap((row) => WHO.map((who) => [`${row.route} (${row.what}) as ${who}`, row, who] as const));

  it.each(table)('%s', async (_name, row, who) => {
    const call = await row.call(ctx);
    const requester =
      who === 'unknown key' ? ctx.app.requester('Bearer not-a-key-of-this-service-0123456789') : ctx.app.as(who);
    const res = await requester.request(call.method, call.path, call.body === undefined ? {} : { body: call.body });
    expect({ status: res.status, body: res.status >= 400 ? res.body : undefined }).toMatchObject({ status: row.expect[who] });
    if (res.status === 401) expect(res.body.error.code).toBe('unauthorized');
    if (res.status === 403) expect(res.body.error.code).toBe('forbidden');
    if (res.status === 404) expect(res.body.error.code).toMatch(/^(not_found|connection_not_found)$/);
    if (res.status < 300) row.check?.(who, res, ctx);
  });
});
