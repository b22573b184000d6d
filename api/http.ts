import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z, type ZodType } from 'zod';
import { ApiError } from './errors';
import type { Role } from '../store/types';
import { principalOf, type Principal } from './auth';
import { streamBody } from './body-watchdog';
import type { RequestRateLimiter } from './rate-limit';
import type { NewAuditEntry } from '../store/audit';

/**
 * One mechanism for every route: declare it once with its zod schemas; the same declaration
 * validates the request and produces the OpenAPI document (GET /v1/openapi.json).
 */

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface RouteSpec<B extends ZodType | undefined, Q extends ZodType | undefined, P extends ZodType | undefined> {
  method: Method;
  /** Express path, e.g. `/v1/segments/:id`. */
  path: string;
  summary: string;
  /** Longer OpenAPI description (semantics a client needs, e.g. how an import reads CSV). */
  description?: string;
  tag: string;
  /** Who may call it; `public` needs no API key. */
  roles: readonly Role[] | 'public';
  body?: B;
  query?: Q;
  params?: P;
  /** The success status and its JSON schema, for the document. */
  response?: { status: number; schema?: ZodType; description?: string; contentType?: string };
  /** Other statuses this route answers, for the document. */
  errors?: Record<number, string>;
  /** Request content types other than JSON (e.g. NDJSON import); the handler reads the stream. */
  rawBody?: string[];
  /** A route that changes something: recorded in the audit log when it succeeds. */
  audit?: AuditSpec<Infer<B>, Infer<Q>, Infer<P>>;
}

/**
 * What the audit log records of a route's success: the action and the resource; its id (default:
 * the `id` path parameter, else the `id` of the answer); and what changed without values (default:
 * the names of the body's fields).
 */
export interface AuditSpec<B, Q, P> {
  action: string;
  resource: string;
  id?: (ctx: RouteContext<B, Q, P>, result: unknown) => string | null | undefined;
  summary?: (ctx: RouteContext<B, Q, P>, result: unknown) => Record<string, unknown>;
}

type Infer<T> = T extends ZodType ? z.output<T> : undefined;

export interface RouteContext<B, Q, P> {
  req: Request;
  res: Response;
  body: B;
  query: Q;
  params: P;
  /** The caller's role; undefined on public routes. */
  role: Role | undefined;
  /** Who calls (role and credential fingerprint); undefined on public routes. */
  principal: Principal | undefined;
  requestId: string;
}

/** What a handler returns: a JSON body (sent with the spec's status), or `undefined` when it answered itself. */
export type Handler<B, Q, P> = (ctx: RouteContext<B, Q, P>) => Promise<unknown>;

export interface RegisteredRoute {
  spec: RouteSpec<ZodType | undefined, ZodType | undefined, ZodType | undefined>;
}

export interface RouteRegistryOptions {
  /** The per-credential request rate limit (429 with Retry-After); none when absent. */
  rateLimiter?: RequestRateLimiter;
  /** Records an audit entry (routes with `audit`, after they succeeded, before they answer). */
  audit?: (entry: NewAuditEntry) => Promise<void>;
}

const JSON_TYPES = ['application/json', 'application/*+json'];
const jsonParser = express.json({ limit: '1mb', strict: true, type: JSON_TYPES });

export class RouteRegistry {
  readonly routes: RegisteredRoute[] = [];

  constructor(
    private readonly router: Router,
    private readonly options: RouteRegistryOptions = {},
  ) {}

  add<B extends ZodType | undefined = undefined, Q extends ZodType | undefined = undefined, P extends ZodType | undefined = undefined>(
    spec: RouteSpec<B, Q, P>,
    handler: Handler<Infer<B>, Infer<Q>, Infer<P>>,
  ): void {
    this.routes.push({ spec: spec as RegisteredRoute['spec'] });
    this.router[spec.method](spec.path, async (req: Request, res: Response, next: NextFunction) => {
      let ctx: RouteContext<Infer<B>, Infer<Q>, Infer<P>> | undefined;
      try {
        const principal = this.admit(res, spec.roles);
        await readBody(req, res, spec);
        const params = parse(spec.params, req.params, 'params');
        const query = parse(spec.query, req.query, 'query');
        const body = spec.rawBody ? undefined : parse(spec.body, req.body ?? {}, 'body');
        ctx = {
          req,
          res,
          body: body as Infer<B>,
          query: query as Infer<Q>,
          params: params as Infer<P>,
          role: principal?.role,
          principal,
          requestId: res.locals.requestId as string,
        };
        const result = await handler(ctx);
        if (spec.audit && res.statusCode < 400) await this.options.audit?.(auditEntry(spec.audit, ctx, result));
        if (result !== undefined && !res.headersSent) res.status(spec.response?.status ?? 200).json(result);
        else if (!res.headersSent) res.status(spec.response?.status ?? 204).end();
      } catch (err) {
        // A change saved before a later step failed is a change all the same.
        if (spec.audit && ctx && err instanceof ApiError && err.saved) await this.options.audit?.(auditEntry(spec.audit, ctx, err.saved));
        next(err);
      }
    });
  }

  /** Records an entry a route writes itself (one whose caller is not the principal, e.g. a browser callback). */
  audit(entry: NewAuditEntry): Promise<void> {
    return this.options.audit?.(entry) ?? Promise.resolve();
  }

  /** Who may call, before anything of the body is read: 401, then 429 (per credential), then 403. */
  private admit(res: Response, roles: readonly Role[] | 'public'): Principal | undefined {
    if (roles === 'public') return undefined;
    const principal = principalOf(res);
    if (!principal) throw new ApiError(401, 'unauthorized', 'a valid API key is required: Authorization: Bearer <api key>');
    const allowed = this.options.rateLimiter?.take(principal.fingerprint) ?? { ok: true };
    if (!allowed.ok) {
      res.setHeader('Retry-After', String(allowed.retryAfterSeconds));
      throw new ApiError(429, 'rate_limited', `too many requests with this credential; try again in ${allowed.retryAfterSeconds} s`);
    }
    if (!roles.includes(principal.role)) throw new ApiError(403, 'forbidden', `this action needs the role ${roles.join(' or ')}`);
    return principal;
  }
}

function auditEntry<B, Q, P>(spec: AuditSpec<B, Q, P>, ctx: RouteContext<B, Q, P>, result: unknown): NewAuditEntry {
  const paramId = (ctx.params as { id?: unknown } | undefined)?.id;
  const resultId = (result as { id?: unknown } | undefined)?.id;
  const id = spec.id ? spec.id(ctx, result) : typeof paramId === 'string' ? paramId : typeof resultId === 'string' ? resultId : null;
  const body = ctx.body as Record<string, unknown> | undefined;
  return {
    requestId: ctx.requestId,
    actor: { role: ctx.principal?.role ?? null, key: ctx.principal?.fingerprint ?? null },
    action: spec.action,
    resourceType: spec.resource,
    resourceId: id ?? null,
    summary: spec.summary ? spec.summary(ctx, result) : body && typeof body === 'object' ? { fields: Object.keys(body).filter((k) => body[k] !== undefined).sort() } : {},
  };
}

const hasBody = (req: Request) => Number(req.header('content-length') ?? 0) > 0 || req.header('transfer-encoding') !== undefined;

/**
 * Reads the body only once the caller is admitted. A route that streams its body (rawBody) reads
 * it itself, held to the minimum rate; every other route takes JSON (or nothing), up to 1 MB.
 */
async function readBody(req: Request, res: Response, spec: { rawBody?: string[]; body?: ZodType }): Promise<void> {
  if (spec.rawBody) return streamBody(res);
  if (!hasBody(req)) return;
  if (!req.is(JSON_TYPES)) throw new ApiError(415, 'unsupported_media_type', 'send the body as application/json');
  if (!spec.body) return;
  await new Promise<void>((resolve, reject) => jsonParser(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
}

function parse(schema: ZodType | undefined, value: unknown, where: 'params' | 'query' | 'body'): unknown {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ApiError(
    400,
    'validation_failed',
    `the request ${where} is not valid: ${result.error.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`).join('; ')}`,
    result.error.issues.map((i) => ({ path: [where, ...i.path.map(String)], code: i.code, message: i.message })),
  );
}

// ---------------------------------------------------------------- OpenAPI

const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.unknown()).optional(),
    requestId: z.string(),
  }),
});

const jsonSchema = (schema: ZodType, io: 'input' | 'output') =>
  z.toJSONSchema(schema, { io, target: 'openapi-3.0', unrepresentable: 'any' });

export function openApiDocument(routes: RegisteredRoute[], info: { title: string; version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { spec } of routes) {
    const path = spec.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters = [
      ...objectFields(spec.params).map(([name, s]) => ({ name, in: 'path', required: true, schema: s })),
      ...objectFields(spec.query).map(([name, s, required]) => ({ name, in: 'query', required, schema: s })),
    ];
    const responses: Record<string, unknown> = {
      [String(spec.response?.status ?? 200)]: {
        description: spec.response?.description ?? 'OK',
        ...(spec.response?.schema
          ? { content: { [spec.response.contentType ?? 'application/json']: { schema: jsonSchema(spec.response.schema, 'output') } } }
          : {}),
      },
    };
    const errors: Record<number, string> = { ...spec.errors };
    if (spec.roles !== 'public') Object.assign(errors, { 401: 'missing or unknown API key', 403: 'role not allowed' });
    if (spec.body || spec.query || spec.params) errors[400] ??= 'validation_failed';
    for (const [status, description] of Object.entries(errors)) {
      responses[status] = { description, content: { 'application/json': { schema: jsonSchema(errorSchema, 'output') } } };
    }
    const requestBody = spec.rawBody
      ? { required: true, content: Object.fromEntries(spec.rawBody.map((t) => [t, { schema: { type: 'string' } }])) }
      : spec.body
        ? { required: true, content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } } }
        : undefined;
    paths[path] ??= {};
    paths[path][spec.method] = {
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      tags: [spec.tag],
      ...(spec.roles === 'public' ? { security: [] } : { 'x-roles': spec.roles }),
      ...(parameters.length ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses,
    };
  }
  return {
    openapi: '3.0.3',
    info,
    components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'an API key from API_KEYS' } } },
    security: [{ apiKey: [] }],
    paths,
  };
}

function objectFields(schema: ZodType | undefined): [string, unknown, boolean][] {
  if (!schema) return [];
  const doc = jsonSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(doc.properties ?? {}).map(([name, s]) => [name, s, (doc.required ?? []).includes(name)]);
}
