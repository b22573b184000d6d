import { setTimeout as sleep } from 'node:timers/promises';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { SandboxContext } from './context';
import {
  badRequest,
  boolParam,
  ccErrorHandler,
  CcError,
  decodeCursor,
  encodeCursor,
  intParam,
  iso,
  notFound,
  sendCcError,
  sendThrottled,
  sendUnauthorized,
  stringParam,
} from './http';
import { ImportRequestError, itemsFittingIn, validateImportItems } from './import';
import type { AccessTokenInfo } from './oauth';
import { KeyRateLimiter } from './rate-limit';
import type { Activity, Contact, ContactList, Permission, SandboxState } from './state';

/**
 * The /v3 API of the sandbox: lists, custom fields, JSON import, activities, remove list memberships,
 * contact exports and contacts, behind bearer auth, the per application key rate limits and the
 * injected faults.
 */

const NAMED = new Set(['contacts_json_import', 'remove_list_memberships', 'contact_exports']);
const WITH_ID = new Set(['contact_lists', 'activities', 'contact_exports', 'contacts', 'contact_custom_fields']);

/** Route pattern of a /v3 path, for stats.byRoute. */
export function routeKey(method: string, path: string): string {
  const parts = path.split('/').filter(Boolean);
  if (parts.length === 1 && WITH_ID.has(parts[0])) return `${method} /v3/${parts[0]}`;
  if (parts.length === 2 && WITH_ID.has(parts[0])) return `${method} /v3/${parts[0]}/${NAMED.has(parts[1]) ? parts[1] : ':id'}`;
  return `${method} /v3/(other)`;
}

type AuthedRequest = Request & { token?: AccessTokenInfo };

function listJson(state: SandboxState, list: ContactList, membership: string | undefined) {
  const out: Record<string, unknown> = {
    list_id: list.id,
    name: list.name,
    description: list.description,
    favorite: list.favorite,
    created_at: iso(list.createdAt),
    updated_at: iso(list.updatedAt),
  };
  if (membership === 'all') out.membership_count = list.members.size;
  else if (membership === 'active') {
    let n = 0;
    for (const c of list.members) if (c.permission !== 'unsubscribed') n++;
    out.membership_count = n;
  }
  void state;
  return out;
}

function membershipParam(q: Record<string, unknown>): string | undefined {
  const v = stringParam(q, 'include_membership_count');
  if (v === undefined || v === '' || v === 'none') return undefined;
  if (v !== 'all' && v !== 'active') throw badRequest("'include_membership_count' must be all, active or none.");
  return v;
}

function activityJson(state: SandboxState, a: Activity) {
  const { state: s, percentDone, startedAt } = state.activityState(a);
  const status = { ...a.status };
  if (!a.applied && status.items_total_count !== undefined) {
    status.items_completed_count = Math.floor((status.items_total_count * percentDone) / 100);
  }
  const links: Record<string, { href: string }> = { self: { href: `/v3/activities/${a.id}` } };
  if (a.kind === 'export' && a.applied) links.results = { href: `/v3/contact_exports/${a.id}` };
  return {
    activity_id: a.id,
    state: s,
    created_at: iso(a.createdAt),
    updated_at: iso(a.applied ? a.completesAt : Math.max(a.createdAt, Math.min(state.now(), a.completesAt))),
    ...(startedAt !== undefined ? { started_at: iso(startedAt) } : {}),
    ...(a.applied ? { completed_at: iso(a.completesAt) } : {}),
    percent_done: percentDone,
    activity_errors: [] as string[],
    status,
    _links: links,
  };
}

const PERMISSION_STATUS: Record<Permission, string> = {
  implicit: 'active',
  explicit: 'active',
  pending_confirmation: 'pending_confirmation',
  not_set: 'not_set',
  unsubscribed: 'unsubscribed',
};
const STATUSES = new Set(['all', 'active', 'deleted', 'not_set', 'pending_confirmation', 'temp_hold', 'unsubscribed']);
const INCLUDES = new Set(['custom_fields', 'list_memberships', 'phone_numbers', 'street_addresses', 'notes', 'taggings']);

function contactJson(state: SandboxState, c: Contact, include: Set<string>) {
  const email: Record<string, unknown> = {
    address: c.email,
    permission_to_send: c.permission,
    created_at: iso(state.time(c.created)),
    updated_at: iso(state.time(c.updated)),
    opt_in_source: 'Account',
    opt_in_date: iso(state.time(c.created)),
    confirm_status: 'off',
  };
  if (c.optOut !== undefined) {
    email.opt_out_source = 'Account';
    email.opt_out_date = iso(state.time(c.optOut));
  }
  const out: Record<string, unknown> = { contact_id: state.contactId(c), email_address: email };
  if (c.firstName !== undefined) out.first_name = c.firstName;
  if (c.lastName !== undefined) out.last_name = c.lastName;
  if (c.extra?.job_title !== undefined) out.job_title = c.extra.job_title;
  if (c.extra?.company_name !== undefined) out.company_name = c.extra.company_name;
  if (c.extra?.birthday_month !== undefined) out.birthday_month = Number(c.extra.birthday_month);
  if (c.extra?.birthday_day !== undefined) out.birthday_day = Number(c.extra.birthday_day);
  if (c.extra?.anniversary !== undefined) out.anniversary = c.extra.anniversary;
  out.create_source = 'Account';
  out.created_at = iso(state.time(c.created));
  out.updated_at = iso(state.time(c.updated));
  if (include.has('custom_fields')) {
    out.custom_fields = c.cf ? Object.entries(c.cf).map(([custom_field_id, value]) => ({ custom_field_id, value })) : [];
  }
  if (include.has('list_memberships')) {
    const ids: string[] = [];
    for (const list of state.lists.values()) if (list.members.has(c)) ids.push(list.id);
    out.list_memberships = ids;
  }
  if (include.has('phone_numbers')) {
    const phones: Record<string, string>[] = [];
    for (const [key, kind] of [['phone', 'other'], ['home_phone', 'home'], ['work_phone', 'work'], ['mobile_phone', 'mobile']] as const) {
      const v = c.extra?.[key];
      if (v) phones.push({ phone_number: v, kind });
    }
    out.phone_numbers = phones;
  }
  if (include.has('street_addresses')) {
    const e = c.extra ?? {};
    out.street_addresses =
      e.street || e.city || e.state || e.zip || e.country
        ? [{ kind: 'home', street: [e.street, e.street2].filter(Boolean).join(' '), city: e.city, state: e.state, postal_code: e.zip, country: e.country }]
        : [];
  }
  if (include.has('notes')) out.notes = [];
  if (include.has('taggings')) out.taggings = [];
  return out;
}

function requireJson(req: Request): void {
  if (!req.is('application/json')) throw new CcError(415, 'unsupported_media_type', "The request's Content-Type must be application/json.");
}

function listIdsOf(state: SandboxState, value: unknown, field: string, max = 50): string[] {
  if (!Array.isArray(value) || value.length === 0) throw badRequest(`'${field}' must be an array of 1 to ${max} list ids.`);
  if (value.length > max) throw badRequest(`'${field}' accepts at most ${max} list ids.`);
  const ids: string[] = [];
  for (const id of value) {
    if (typeof id !== 'string') throw badRequest(`'${field}' must contain list id strings.`);
    if (!state.lists.has(id)) throw badRequest(`List ${id} does not exist.`, 'list_not_found');
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

const removeBody = z.strictObject({
  source: z.record(z.string(), z.unknown()),
  list_ids: z.array(z.string()),
});

const exportBody = z.strictObject({
  list_ids: z.array(z.string()).optional(),
  fields: z.array(z.string()).optional(),
});
const EXPORT_FIELDS = new Set(['contact_id', 'email', 'first_name', 'last_name', 'job_title', 'company_name', 'permission_to_send']);

function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function apiRouter(ctx: SandboxContext): Router {
  const { state, options } = ctx;
  const router = express.Router();

  // Arrival: stats, network-level faults (latency, connection reset).
  router.use(async (req, _res, next) => {
    const now = options.now();
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
    const decision = limiter.take(options.now());
    if (!decision.ok) {
      state.stats.throttled++;
      if (decision.reason === 'per_second') state.stats.throttledPerSecond++;
      else state.stats.throttledPerDay++;
      return sendThrottled(res);
    }
    if (!token.scopes.has('contact_data')) {
      return sendCcError(res, 403, 'forbidden', "The access token lacks the 'contact_data' scope.");
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

  // ---- lists ----

  router.get('/contact_lists', (req, res) => {
    const q = req.query as Record<string, unknown>;
    const cursor = stringParam(q, 'cursor');
    const c = cursor ? decodeCursor<{ o: number; n: number; m?: string; c?: boolean }>(cursor) : undefined;
    const limit = c ? c.n : intParam(q, 'limit', 1, 1000, 50);
    const membership = c ? c.m : membershipParam(q);
    const includeCount = c ? !!c.c : boolParam(q, 'include_count');
    const offset = c ? c.o : 0;
    const all = [...state.lists.values()];
    const page = all.slice(offset, offset + limit);
    const body: Record<string, unknown> = { lists: page.map((l) => listJson(state, l, membership)) };
    if (includeCount) body.lists_count = all.length;
    if (offset + limit < all.length) {
      body._links = { next: { href: `/v3/contact_lists?cursor=${encodeCursor({ o: offset + limit, n: limit, m: membership, c: includeCount })}` } };
    }
    res.json(body);
  });

  router.get('/contact_lists/:listId', (req, res) => {
    const list = state.lists.get(req.params.listId);
    if (!list) throw notFound(`List ${req.params.listId} not found.`);
    res.json(listJson(state, list, membershipParam(req.query as Record<string, unknown>)));
  });

  // ---- custom fields ----

  router.get('/contact_custom_fields', (req, res) => {
    const q = req.query as Record<string, unknown>;
    const cursor = stringParam(q, 'cursor');
    const c = cursor ? decodeCursor<{ o: number; n: number }>(cursor) : undefined;
    const limit = c ? c.n : intParam(q, 'limit', 1, 100, 50);
    const offset = c ? c.o : 0;
    const all = [...state.customFields.values()];
    const body: Record<string, unknown> = {
      custom_fields: all.slice(offset, offset + limit).map((f) => ({
        custom_field_id: f.id,
        label: f.label,
        name: f.name,
        type: f.type,
        created_at: iso(f.createdAt),
        updated_at: iso(f.updatedAt),
      })),
    };
    if (offset + limit < all.length) {
      body._links = { next: { href: `/v3/contact_custom_fields?cursor=${encodeCursor({ o: offset + limit, n: limit })}` } };
    }
    res.json(body);
  });

  // ---- bulk activities ----

  const queueFull = (res: Response): boolean => {
    if (state.queuedActivities() < ctx.limits.maxQueuedActivities) return false;
    state.stats.throttled++;
    state.stats.throttledQueue++;
    sendThrottled(res, 'Too many queued activities.');
    return true;
  };

  const checkJson = (req: Request, _res: Response, next: NextFunction) => {
    requireJson(req);
    next();
  };

  router.post(
    '/activities/contacts_json_import',
    checkJson,
    express.raw({ type: () => true, limit: options.maxBodyBytes }),
    (req, res) => {
      if (queueFull(res)) return;
      const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw badRequest('The request body is not valid JSON.', 'malformed_json');
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The request body must be a JSON object.');
      const { import_data: importData, list_ids: listIdsRaw, ...rest } = body as Record<string, unknown>;
      const unknownKeys = Object.keys(rest);
      if (unknownKeys.length) throw badRequest(`Unknown property: ${unknownKeys.join(', ')}.`);
      if (!Array.isArray(importData) || importData.length === 0) throw badRequest("'import_data' must be an array of 1 to 40000 contacts.", 'import_data.required');
      if (importData.length > options.maxImportContacts) {
        throw badRequest(`'import_data' accepts at most ${options.maxImportContacts} contacts; got ${importData.length}.`, 'import_data.too_many');
      }
      const listIds = listIdsOf(state, listIdsRaw, 'list_ids');

      let items = importData;
      if (raw.length > options.maxImportBytes) {
        // Like Constant Contact: only the first 4 MB are imported; the rest is dropped silently.
        const kept = itemsFittingIn(raw, options.maxImportBytes);
        state.stats.truncatedRequests++;
        state.stats.truncatedContacts += importData.length - kept;
        items = importData.slice(0, kept);
      }
      let validated;
      try {
        validated = validateImportItems(items, state.customFieldIdByName);
      } catch (err) {
        if (err instanceof ImportRequestError) throw badRequest(err.message, 'import_data.invalid');
        throw err;
      }
      const activity = state.enqueue(
        'import',
        items.length,
        { kind: 'import', listIds, persons: validated.persons },
        {
          items_total_count: items.length,
          items_completed_count: 0,
          person_count: 0,
          error_count: validated.errorCount,
          correctable_count: validated.correctableCount,
          cannot_add_to_list_count: 0,
        },
      );
      state.stats.importRequests++;
      state.stats.importedContacts += items.length;
      res.status(201).json(activityJson(state, activity));
    },
  );

  router.post('/activities/remove_list_memberships', checkJson, express.json({ type: () => true, limit: '1mb' }), (req, res) => {
    if (queueFull(res)) return;
    const parsed = removeBody.safeParse(req.body);
    if (!parsed.success) throw badRequest(`Invalid request: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
    const { source, list_ids: targetsRaw } = parsed.data;
    const targets = listIdsOf(state, targetsRaw, 'list_ids');
    const keys = Object.keys(source);
    if (keys.length !== 1) throw badRequest("'source' must name exactly one of list_ids, contact_ids, all_active_contacts.");
    const [kind] = keys;
    let payloadSource;
    let items = 0;
    if (kind === 'list_ids') {
      payloadSource = { listIds: listIdsOf(state, source.list_ids, 'source.list_ids') };
      for (const id of payloadSource.listIds) items += state.lists.get(id)!.members.size;
    } else if (kind === 'contact_ids') {
      const ids = source.contact_ids;
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > 500 || ids.some((id) => typeof id !== 'string')) {
        throw badRequest("'source.contact_ids' must be an array of 1 to 500 contact ids.");
      }
      payloadSource = { contactIds: ids as string[] };
      items = ids.length;
    } else if (kind === 'all_active_contacts') {
      if (source.all_active_contacts !== true) throw badRequest("'source.all_active_contacts' must be true.");
      payloadSource = { allActiveContacts: true as const };
      for (const id of targets) items += state.lists.get(id)!.members.size;
    } else {
      throw badRequest(`'source.${kind}' is not supported (the sandbox supports list_ids, contact_ids, all_active_contacts).`);
    }
    const activity = state.enqueue('remove', items, { kind: 'remove', source: payloadSource, targets }, {
      items_total_count: items,
      items_completed_count: 0,
      person_count: 0,
      error_count: 0,
      list_count: targets.length,
    });
    state.stats.removeRequests++;
    res.status(201).json(activityJson(state, activity));
  });

  router.post('/activities/contact_exports', checkJson, express.json({ type: () => true, limit: '1mb' }), (req, res) => {
    if (queueFull(res)) return;
    const parsed = exportBody.safeParse(req.body);
    if (!parsed.success) throw badRequest(`Invalid request: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
    const listIds = parsed.data.list_ids ? listIdsOf(state, parsed.data.list_ids, 'list_ids') : undefined;
    const fields = parsed.data.fields ?? ['email', 'first_name', 'last_name'];
    const bad = fields.filter((f) => !EXPORT_FIELDS.has(f));
    if (bad.length || fields.length === 0) throw badRequest(`'fields' must name some of ${[...EXPORT_FIELDS].join(', ')}.`);
    let items = 0;
    if (listIds) for (const id of listIds) items += state.lists.get(id)!.members.size;
    else items = state.contacts.length;
    const activity = state.enqueue('export', items, { kind: 'export', listIds, fields }, { items_total_count: items, items_completed_count: 0, person_count: 0 });
    state.stats.exportRequests++;
    res.status(201).json(activityJson(state, activity));
  });

  router.get('/contact_exports/:activityId', (req, res) => {
    const a = state.activities.get(req.params.activityId);
    if (!a || a.kind !== 'export') throw notFound(`Export ${req.params.activityId} not found.`);
    if (!a.applied || !a.exported) throw new CcError(409, 'conflict', 'The export has not completed yet.');
    const fields = a.exportFields!;
    const value = (c: Contact, f: string): string => {
      switch (f) {
        case 'contact_id':
          return state.contactId(c);
        case 'email':
          return c.email;
        case 'first_name':
          return c.firstName ?? '';
        case 'last_name':
          return c.lastName ?? '';
        case 'permission_to_send':
          return c.permission;
        default:
          return c.extra?.[f] ?? '';
      }
    };
    res.type('text/csv');
    const lines = [fields.join(',')];
    for (const c of a.exported) lines.push(fields.map((f) => csvCell(value(c, f))).join(','));
    res.send(lines.join('\n') + '\n');
  });

  // ---- activities ----

  router.get('/activities', (req, res) => {
    const q = req.query as Record<string, unknown>;
    const cursor = stringParam(q, 'cursor');
    const c = cursor ? decodeCursor<{ o: number; n: number; s?: string }>(cursor) : undefined;
    const limit = c ? c.n : intParam(q, 'limit', 1, 500, 50);
    const wanted = c ? c.s : stringParam(q, 'state');
    if (wanted !== undefined && !['initialized', 'processing', 'completed', 'cancelled', 'failed', 'timed_out'].includes(wanted)) {
      throw badRequest("'state' must be one of initialized, processing, completed, cancelled, failed, timed_out.");
    }
    const offset = c ? c.o : 0;
    const all = state.recentActivities().map((a) => activityJson(state, a)).filter((a) => wanted === undefined || a.state === wanted);
    const body: Record<string, unknown> = {
      activities: all.slice(offset, offset + limit).map(({ activity_errors: _e, status: _s, ...summary }) => summary),
    };
    if (offset + limit < all.length) body._links = { next: { href: `/v3/activities?cursor=${encodeCursor({ o: offset + limit, n: limit, s: wanted })}` } };
    res.json(body);
  });

  router.get('/activities/:activityId', (req, res) => {
    const a = state.activities.get(req.params.activityId);
    if (!a) throw notFound(`Activity ${req.params.activityId} not found.`);
    res.json(activityJson(state, a));
  });

  // ---- contacts ----

  interface ContactsCursor {
    a: number; // next seq to look at
    n: number;
    l?: string[];
    s?: string[];
    i: string[];
    e?: string;
    c?: boolean;
  }

  router.get('/contacts', (req, res) => {
    const q = req.query as Record<string, unknown>;
    const cursorRaw = stringParam(q, 'cursor');
    let cur: ContactsCursor;
    if (cursorRaw) cur = decodeCursor<ContactsCursor>(cursorRaw);
    else {
      const split = (name: string) => stringParam(q, name)?.split(',').map((s) => s.trim()).filter(Boolean);
      const lists = split('lists');
      if (lists && lists.length > 25) throw badRequest("'lists' accepts at most 25 list ids.");
      for (const id of lists ?? []) if (!state.lists.has(id)) throw badRequest(`List ${id} does not exist.`, 'list_not_found');
      const statuses = split('status');
      for (const s of statuses ?? []) if (!STATUSES.has(s)) throw badRequest(`'status' value ${s} is not one of ${[...STATUSES].join(', ')}.`);
      const include = split('include') ?? [];
      for (const s of include) if (!INCLUDES.has(s)) throw badRequest(`'include' value ${s} is not one of ${[...INCLUDES].join(', ')}.`);
      cur = { a: 0, n: intParam(q, 'limit', 1, 500, 50), l: lists, s: statuses, i: include, e: stringParam(q, 'email')?.trim().toLowerCase(), c: boolParam(q, 'include_count') };
    }
    if (!Number.isInteger(cur.a) || !Number.isInteger(cur.n) || !Array.isArray(cur.i)) throw badRequest('The cursor is invalid.', 'invalid_cursor');
    const lists = cur.l?.map((id) => state.lists.get(id)).filter((l): l is ContactList => !!l);
    const statuses = cur.s && !cur.s.includes('all') ? new Set(cur.s) : undefined;
    const matches = (c: Contact): boolean => {
      if (statuses && !statuses.has(PERMISSION_STATUS[c.permission])) return false;
      if (lists) {
        let member = false;
        for (const l of lists) if (l.members.has(c)) member = true;
        if (!member) return false;
      }
      return true;
    };
    const include = new Set(cur.i);
    const page: Record<string, unknown>[] = [];
    let next: number | undefined;
    let total: number | undefined;
    if (cur.e !== undefined) {
      const c = state.byEmail.get(cur.e);
      if (c && cur.a === 0 && matches(c)) page.push(contactJson(state, c, include));
      total = page.length;
    } else {
      const all = state.contacts;
      let i = cur.a;
      for (; i < all.length && page.length < cur.n; i++) if (matches(all[i])) page.push(contactJson(state, all[i], include));
      for (; i < all.length; i++) {
        if (matches(all[i])) {
          next = i;
          break;
        }
      }
      if (cur.c) {
        if (!lists && !statuses) total = all.length;
        else {
          total = 0;
          for (const c of all) if (matches(c)) total++;
        }
      }
    }
    const body: Record<string, unknown> = { contacts: page };
    if (total !== undefined) body.contacts_count = total;
    if (next !== undefined) body._links = { next: { href: `/v3/contacts?cursor=${encodeCursor({ ...cur, a: next, c: false })}` } };
    res.json(body);
  });

  router.use((_req, _res) => {
    throw notFound('No such resource.');
  });
  router.use(ccErrorHandler);
  return router;
}
