import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { noFaults, type SandboxContext } from './context';
import { sendControlError } from './http';
import { isValidEmail } from './import';
import type { Contact } from './state';

/**
 * Control endpoints of the sandbox under /__sandbox (no auth, sandbox only): reset, stats, faults,
 * unsubscribes, leaving a list, limits, lists, contact lookup; sandbox/README.md lists them.
 */

const rate = z.number().min(0).max(1);

const faultsBody = z.strictObject({
  errorRate: rate.optional(),
  throttleRate: rate.optional(),
  resetRate: rate.optional(),
  latencyMs: z.number().int().min(0).max(60_000).optional(),
  importMsPerContact: z.number().min(0).max(60_000).optional(),
  failImports: z.number().int().min(0).max(1_000_000).optional(),
});

const limitsBody = z.strictObject({
  ratePerSecond: z.number().int().positive().optional(),
  ratePerDay: z.number().int().positive().optional(),
  maxQueuedActivities: z.number().int().positive().optional(),
  tokenRatePerSecond: z.number().min(0).optional(),
  tokenBurst: z.number().int().positive().optional(),
});

const accountBody = z.strictObject({ encodedAccountId: z.string().regex(/^[A-Za-z0-9]{1,64}$/) });
const listBody = z.strictObject({ name: z.string().trim().min(1).max(255), description: z.string().max(2000).optional() });
const fieldBody = z.strictObject({ label: z.string().trim().min(1).max(50), type: z.enum(['string', 'date']).default('string') });
const emailsBody = z.strictObject({ emails: z.array(z.string().trim().min(1).max(254)).min(1).max(100_000) });

function parse<T>(schema: z.ZodType<T>, body: unknown, res: Response): T | undefined {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  sendControlError(
    res,
    400,
    'validation_failed',
    'The request body is invalid.',
    parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
  );
  return undefined;
}

export function controlRouter(ctx: SandboxContext): Router {
  const { state } = ctx;
  const router = express.Router();
  router.use(express.json({ limit: '16mb' }));

  const faultsJson = () => ({ ...ctx.faults, importMsPerContact: state.importMsPerContact });

  router.post('/reset', (_req, res) => {
    state.reset();
    for (const limiter of ctx.limiters.values()) limiter.clear();
    ctx.arrivals.clear();
    ctx.oauth.tokenBucket.clear();
    ctx.faults = noFaults();
    res.json({ reset: true });
  });

  // The account the next authorizations land on (an admin logging in to another account).
  router.put('/account', (req, res) => {
    const body = parse(accountBody, req.body, res);
    if (!body) return;
    state.accountId = body.encodedAccountId;
    res.json({ encodedAccountId: state.accountId });
  });

  router.get('/lists', (_req, res) => {
    res.json({ items: [...state.lists.values()].map((l) => ({ listId: l.id, name: l.name, memberCount: l.members.size })) });
  });

  router.post('/lists', (req, res) => {
    const body = parse(listBody, req.body, res);
    if (!body) return;
    const existing = state.findListByName(body.name);
    if (existing) return res.status(200).json({ listId: existing.id, name: existing.name, created: false });
    const list = state.createList(body.name, body.description);
    res.status(201).json({ listId: list.id, name: list.name, created: true });
  });

  router.post('/custom-fields', (req, res) => {
    const body = parse(fieldBody, req.body, res);
    if (!body) return;
    const existing = [...state.customFields.values()].find((f) => f.label.toLowerCase() === body.label.toLowerCase());
    const json = (f: { id: string; name: string; label: string; type: string }, created: boolean) => ({
      customFieldId: f.id,
      name: f.name,
      label: f.label,
      type: f.type,
      created,
    });
    if (existing) return res.status(200).json(json(existing, false));
    if (state.customFields.size >= ctx.options.maxCustomFields) {
      return sendControlError(res, 409, 'custom_field_limit', `The account already has ${ctx.options.maxCustomFields} custom fields.`);
    }
    res.status(201).json(json(state.createCustomField(body.label, body.type), true));
  });

  router.get('/lists/:listId/members', async (req, res) => {
    const list = state.lists.get(req.params.listId);
    if (!list) return sendControlError(res, 404, 'not_found', `List ${req.params.listId} not found.`);
    // Custom field id -> '"name":' once; lines are built by hand (a list may hold a million members).
    const names = new Map([...state.customFields.values()].map((f) => [f.id, `${JSON.stringify(f.name)}:`]));
    const str = (v: string | undefined) => (v === undefined ? 'null' : JSON.stringify(v));
    const line = (c: Contact): string => {
      let cf = '';
      if (c.cf) {
        for (const id in c.cf) {
          cf += `${cf ? ',' : ''}${names.get(id) ?? `${JSON.stringify(id)}:`}${JSON.stringify(c.cf[id])}`;
        }
      }
      return `{"contactId":"${state.contactId(c)}","email":${JSON.stringify(c.email)},"firstName":${str(c.firstName)},"lastName":${str(c.lastName)},"customFields":{${cf}},"permissionToSend":"${c.permission}"}\n`;
    };
    res.status(200).type('application/x-ndjson');
    const members = [...list.members];
    const BATCH = 5000;
    for (let i = 0; i < members.length; i += BATCH) {
      let chunk = '';
      const end = Math.min(members.length, i + BATCH);
      for (let j = i; j < end; j++) chunk += line(members[j]);
      if (!res.write(chunk)) {
        const open = await new Promise<boolean>((resolve) => {
          const done = (ok: boolean) => () => {
            res.off('drain', onDrain);
            res.off('close', onClose);
            resolve(ok);
          };
          const onDrain = done(true);
          const onClose = done(false);
          res.on('drain', onDrain);
          res.on('close', onClose);
        });
        if (!open) return;
      }
    }
    res.end();
  });

  // A contact leaving this one list by themself; a later import naming the list puts them back.
  router.post('/lists/:listId/members/leave', (req, res) => {
    const list = state.lists.get(req.params.listId);
    if (!list) return sendControlError(res, 404, 'not_found', `List ${req.params.listId} not found.`);
    const body = parse(emailsBody, req.body, res);
    if (!body) return;
    res.json(state.leaveList(list, body.emails));
  });

  router.get('/contacts', (req, res) => {
    const email = typeof req.query.email === 'string' ? req.query.email : undefined;
    if (!email) return sendControlError(res, 400, 'validation_failed', "Query parameter 'email' is required.");
    const c = state.contactByEmail(email);
    if (!c) return sendControlError(res, 404, 'not_found', 'No contact with that email.');
    const names = new Map([...state.customFields.values()].map((f) => [f.id, f.name]));
    const customFields: Record<string, string> = {};
    if (c.cf) for (const [id, value] of Object.entries(c.cf)) customFields[names.get(id) ?? id] = value;
    res.json({
      contactId: state.contactId(c),
      email: c.email,
      firstName: c.firstName ?? null,
      lastName: c.lastName ?? null,
      customFields,
      permissionToSend: c.permission,
      listIds: [...state.lists.values()].filter((l) => l.members.has(c)).map((l) => l.id),
    });
  });

  router.post('/contacts/unsubscribe', (req, res) => {
    const body = parse(emailsBody, req.body, res);
    if (!body) return;
    const invalid = body.emails.filter((e) => !isValidEmail(e));
    if (invalid.length) return sendControlError(res, 400, 'validation_failed', `${invalid.length} email(s) are not valid addresses.`);
    res.json(state.unsubscribe(body.emails));
  });

  router.get('/faults', (_req, res) => {
    res.json(faultsJson());
  });

  // PUT replaces: a field left out goes back to its default (no fault; the configured import speed).
  router.put('/faults', (req, res) => {
    const body = parse(faultsBody, req.body, res);
    if (!body) return;
    ctx.faults = { ...noFaults(), ...Object.fromEntries(Object.entries(body).filter(([k, v]) => k !== 'importMsPerContact' && v !== undefined)) };
    state.importMsPerContact = body.importMsPerContact ?? ctx.options.importMsPerContact;
    res.json(faultsJson());
  });

  router.post('/tokens/revoke', (_req, res) => {
    res.json({ revoked: ctx.oauth.revokeAll() });
  });

  router.get('/limits', (_req, res) => {
    res.json(ctx.limits);
  });

  router.put('/limits', (req, res) => {
    const body = parse(limitsBody, req.body, res);
    if (!body) return;
    Object.assign(ctx.limits, Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)));
    for (const limiter of ctx.limiters.values()) {
      limiter.ratePerSecond = ctx.limits.ratePerSecond;
      limiter.ratePerDay = ctx.limits.ratePerDay;
    }
    ctx.oauth.tokenBucket.configure(ctx.limits.tokenRatePerSecond, ctx.limits.tokenBurst);
    res.json(ctx.limits);
  });

  router.get('/stats', (_req, res) => {
    const now = ctx.options.now();
    let requestsToday = 0;
    for (const limiter of ctx.limiters.values()) requestsToday += limiter.today(now);
    res.json({
      ...state.stats,
      requestsToday,
      queuedActivities: state.queuedActivities(),
      contacts: state.contacts.length,
      lists: state.lists.size,
      customFields: state.customFields.size,
      limits: ctx.limits,
    });
  });

  router.use((_req, res) => sendControlError(res, 404, 'not_found', 'No such sandbox control endpoint.'));
  router.use((err: { type?: string; status?: number }, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    if (err.type === 'entity.parse.failed') return sendControlError(res, 400, 'validation_failed', 'The request body is not valid JSON.');
    if (err.type === 'entity.too.large') return sendControlError(res, 413, 'payload_too_large', 'The request body is too large.');
    sendControlError(res, 500, 'internal', 'Internal sandbox error.');
  });
  return router;
}
