import { z } from 'zod';
import { idPattern } from '../../common/ids';
import { pageQuery } from '../../common/paging';
import { randomToken } from '../../common/secrets';
import { assertPublicHost, urlProblem, WebhookAddressError } from '../../services/webhooks/address';
import { DEFAULT_TOLERANCE_SECONDS, SIGNATURE_HEADER } from '../../services/webhooks/signature';
import { EVENT_TYPES } from '../../store/events';
import type { Webhook, WebhookDelivery } from '../../store/webhooks';
import { badRequest, notFound, unprocessable } from '../errors';
import type { RouteDeps } from '../deps';
import type { RouteRegistry } from '../http';
import { exportIdSchema } from '../schemas/exports';

/**
 * Webhooks (admins only): endpoints that receive run and connection events, signed with a secret
 * shown once, when the webhook is created. Deliveries and their attempts are readable per webhook.
 */

const ADMIN = ['admin'] as const;

const webhookParams = z.strictObject({ id: z.string().regex(idPattern('whk'), 'must be a webhook id of the form whk_…') });

const DESCRIPTION = [
  'Events: ' + EVENT_TYPES.map((t) => `\`${t}\``).join(', ') + '.',
  'Each event is POSTed as JSON: `{id, type, createdAt, …}`; run events carry `runId, exportId, connectionId, status, trigger, phase, startedAt, finishedAt, counts, errorCode, temporalUiUrl` (and `alert` for `run.alert`), connection events `connectionId, status`. No profile data, email, name or token.',
  `Signature: \`${SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the secret>\`. Verify it over the raw body and refuse timestamps more than ${DEFAULT_TOLERANCE_SECONDS} s away (replay window). \`X-Segment-Export-Event-Id\` is the same on every retry of an event.`,
  'Delivery: any 2xx is success; anything else, or no answer within 10 s, is retried with backoff for up to 24 hours. Redirects are not followed. Only http(s) URLs; loopback, private and link-local addresses are refused (at registration and at every delivery) unless WEBHOOK_ALLOW_PRIVATE=true.',
].join('\n\n');

const webhookSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.enum(EVENT_TYPES)),
  exportId: z.string().nullable().describe("only this export's events (and its connection's) are delivered; null: every export's"),
  createdAt: z.string(),
});

const createBody = z.strictObject({
  url: z.string().min(1).max(2048).describe('http(s) URL that receives the events'),
  events: z.array(z.enum(EVENT_TYPES)).min(1).describe('the event types to deliver'),
  exportId: exportIdSchema.nullable().optional(),
});

const attemptSchema = z.object({
  attempt: z.number().int(),
  at: z.string(),
  statusCode: z.number().int().nullable().describe("the endpoint's HTTP status; null when it did not answer"),
  error: z.string().nullable(),
  durationMs: z.number(),
});

const deliverySchema = z.object({
  id: z.string(),
  eventId: z.string(),
  eventType: z.enum(EVENT_TYPES),
  runId: z.string().nullable(),
  exportId: z.string().nullable(),
  connectionId: z.string().nullable(),
  status: z.enum(['pending', 'delivered', 'failed']).describe('pending: being tried (retries for up to 24 h)'),
  error: z.string().nullable().describe('why a failed delivery failed'),
  attempts: z.array(attemptSchema),
  temporalWorkflowId: z.string(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
});

const deliveryJson = (d: WebhookDelivery) => {
  const { workflowId, webhookId: _webhookId, ...rest } = d;
  return { ...rest, temporalWorkflowId: workflowId };
};

const webhookJson = (w: Webhook) => ({ id: w.id, url: w.url, events: w.events, exportId: w.exportId, createdAt: w.createdAt });

export function registerWebhooksRoutes(routes: RouteRegistry, deps: RouteDeps): void {
  const { store, config } = deps;
  const clock = deps.clock ?? (() => new Date());

  async function webhook(id: string): Promise<Webhook> {
    const found = await store.webhooks.get(id);
    if (!found) throw notFound('webhook');
    return found;
  }

  routes.add(
    {
      method: 'post',
      path: '/v1/webhooks',
      summary: 'Register a webhook endpoint; the answer shows its signing secret, once',
      description: DESCRIPTION,
      tag: 'webhooks',
      roles: ADMIN,
      body: createBody,
      response: { status: 201, schema: webhookSchema.extend({ secret: z.string().describe('the signing secret: shown only in this answer') }) },
      errors: { 400: 'validation_failed: not an http(s) URL, or its host is a private address', 422: 'export_not_found' },
    },
    async ({ body }) => {
      await checkUrl(body.url, config.webhooks.allowPrivate);
      if (body.exportId && !(await store.exports.get(body.exportId))) {
        throw unprocessable('export_not_found', `export ${body.exportId} does not exist`, [{ path: ['body', 'exportId'], message: 'no such export' }]);
      }
      const secret = `whsec_${randomToken(32)}`;
      const created = await store.webhooks.create({ url: body.url, events: body.events, exportId: body.exportId ?? null, secret, now: clock().toISOString() });
      return { ...webhookJson(created), secret };
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/webhooks',
      summary: 'The webhooks, oldest first (without their secrets)',
      tag: 'webhooks',
      roles: ADMIN,
      query: pageQuery,
      response: { status: 200, schema: z.object({ items: z.array(webhookSchema), nextCursor: z.string().nullable() }) },
    },
    async ({ query }) => {
      const page = await store.webhooks.list({ limit: query.limit, cursor: query.cursor });
      return { items: page.items.map(webhookJson), nextCursor: page.nextCursor };
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/webhooks/:id',
      summary: 'A webhook (without its secret)',
      tag: 'webhooks',
      roles: ADMIN,
      params: webhookParams,
      response: { status: 200, schema: webhookSchema },
      errors: { 404: 'no such webhook' },
    },
    async ({ params }) => webhookJson(await webhook(params.id)),
  );

  routes.add(
    {
      method: 'delete',
      path: '/v1/webhooks/:id',
      summary: 'Delete a webhook: nothing more is delivered to it, its secret is forgotten',
      tag: 'webhooks',
      roles: ADMIN,
      params: webhookParams,
      response: { status: 204 },
      errors: { 404: 'no such webhook' },
    },
    async ({ params }) => {
      if (!(await store.webhooks.delete(params.id, clock().toISOString()))) throw notFound('webhook');
      return undefined;
    },
  );

  routes.add(
    {
      method: 'get',
      path: '/v1/webhooks/:id/deliveries',
      summary: "A webhook's deliveries, newest first, each with its attempts (times, status codes, errors)",
      tag: 'webhooks',
      roles: ADMIN,
      params: webhookParams,
      query: pageQuery,
      response: { status: 200, schema: z.object({ items: z.array(deliverySchema), nextCursor: z.string().nullable() }) },
      errors: { 404: 'no such webhook' },
    },
    async ({ params, query }) => {
      const found = await webhook(params.id);
      const page = await store.webhooks.listDeliveries(found.id, { limit: query.limit, cursor: query.cursor });
      return { items: page.items.map(deliveryJson), nextCursor: page.nextCursor };
    },
  );
}

/** 400 validation_failed naming body.url when the URL cannot take webhooks. */
async function checkUrl(url: string, allowPrivate: boolean): Promise<void> {
  const refuse = (message: string) => badRequest(`the request body is not valid: body.url: ${message}`, [{ path: ['body', 'url'], message }]);
  const problem = urlProblem(url);
  if (problem) throw refuse(problem);
  try {
    await assertPublicHost(new URL(url).hostname, { allowPrivate });
  } catch (err) {
    if (err instanceof WebhookAddressError) throw refuse(err.message);
    throw refuse(`its host does not resolve (${(err as { code?: string }).code ?? 'lookup failed'})`);
  }
}
