import express, { type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';
import type { SandboxContext } from '../context';
import { badRequest, CcError, iso, sendThrottled } from '../http';
import type { Activity, SandboxState } from '../state';

// What several /v3 resources share: the JSON of an activity, list id arguments, the JSON content
// type check and the limit on queued activities.

export function activityJson(state: SandboxState, a: Activity) {
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

export function requireJson(req: Request): void {
  if (!req.is('application/json')) throw new CcError(415, 'unsupported_media_type', "The request's Content-Type must be application/json.");
}

/** Express middleware form of requireJson, before the body is read. */
export function checkJson(req: Request, _res: Response, next: NextFunction): void {
  requireJson(req);
  next();
}

export function listIdsOf(state: SandboxState, value: unknown, field: string, max = 50): string[] {
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

/** True (and a 429 sent) when the account already has as many queued activities as it allows. */
export function queueFull(ctx: SandboxContext, res: Response): boolean {
  if (ctx.state.queuedActivities() < ctx.limits.maxQueuedActivities) return false;
  ctx.state.stats.throttled++;
  ctx.state.stats.throttledQueue++;
  sendThrottled(res, 'Too many queued activities.');
  return true;
}

/** The middleware of a JSON POST: the content type first, then the body (up to 1 MB). */
export const jsonBody = [checkJson, express.json({ type: () => true, limit: '1mb' })];

/** The body as `schema` reads it; a body it refuses is a 400 naming every problem. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw badRequest(`Invalid request: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
