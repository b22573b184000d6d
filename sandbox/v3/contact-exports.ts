import express, { type Router } from 'express';
import { z } from 'zod';
import type { SandboxContext } from '../context';
import { badRequest, CcError, iso, notFound } from '../http';
import type { Contact, ExportSource, SandboxState } from '../state';
import { activityJson, jsonBody, listIdsOf, parseBody, queueFull } from './shared';

const exportBody = z.strictObject({
  contact_ids: z.array(z.string()).optional(),
  list_ids: z.array(z.string()).optional(),
  segment_id: z.union([z.number(), z.string()]).optional(),
  status: z.enum(['active', 'unsubscribed', 'removed']).optional(),
  fields: z.array(z.string()),
});

type FieldValue = (state: SandboxState, c: Contact) => string;
const extra =
  (key: string): FieldValue =>
  (_s, c) =>
    c.extra?.[key] ?? '';
const none: FieldValue = () => '';

/**
 * The export field names Constant Contact documents, and what the sandbox writes for each; the
 * sandbox keeps no opt-in source, tags or notes, so those columns are empty. Any other name is refused.
 */
const EXPORT_FIELDS: Record<string, FieldValue> = {
  first_name: (_s, c) => c.firstName ?? '',
  last_name: (_s, c) => c.lastName ?? '',
  email_address: (_s, c) => c.email,
  email_lists: (s, c) => [...s.lists.values()].filter((l) => l.members.has(c)).map((l) => l.name).join(', '),
  phone_number: (_s, c) => c.extra?.phone ?? c.extra?.mobile_phone ?? c.extra?.work_phone ?? c.extra?.home_phone ?? '',
  company_name: extra('company_name'),
  job_title: extra('job_title'),
  street: (_s, c) => [c.extra?.street, c.extra?.street2].filter(Boolean).join(' '),
  city: extra('city'),
  state: extra('state'),
  zip: extra('zip'),
  country: extra('country'),
  birthday: (_s, c) => (c.extra?.birthday_month && c.extra?.birthday_day ? `${c.extra.birthday_month}/${c.extra.birthday_day}` : ''),
  anniversary: extra('anniversary'),
  source_name: none,
  created_at: (s, c) => iso(s.time(c.created)),
  updated_at: (s, c) => iso(s.time(c.updated)),
  email_optin: none,
  email_permission: (_s, c) => c.permission,
  tag: none,
  notes: none,
};

function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function checkFields(fields: string[]): string[] {
  const unknown = fields.filter((f) => !Object.hasOwn(EXPORT_FIELDS, f));
  if (fields.length === 0 || unknown.length) {
    const what = unknown.length ? `unknown field(s) ${unknown.join(', ')}` : 'no field';
    throw badRequest(`'fields' names ${what}; it must name at least one of ${Object.keys(EXPORT_FIELDS).join(', ')}.`);
  }
  return [...new Set(fields)];
}

/** The one source of the export (none: every contact of the account). */
function exportSource(state: SandboxState, body: z.infer<typeof exportBody>): ExportSource {
  const given = (['contact_ids', 'list_ids', 'segment_id'] as const).filter((k) => body[k] !== undefined);
  if (given.length > 1) throw badRequest("Name at most one of 'contact_ids', 'list_ids', 'segment_id'.");
  if (body.segment_id !== undefined) throw badRequest(`Segment ${body.segment_id} does not exist.`, 'segment_not_found');
  if (body.list_ids) return { listIds: listIdsOf(state, body.list_ids, 'list_ids') };
  if (body.contact_ids) {
    if (body.contact_ids.length < 1 || body.contact_ids.length > 500) throw badRequest("'contact_ids' must hold 1 to 500 contact ids.");
    return { contactIds: body.contact_ids };
  }
  return {};
}

function itemsOf(state: SandboxState, source: ExportSource): number {
  if (source.contactIds) return source.contactIds.length;
  return source.listIds ? state.membershipCount(source.listIds) : state.contacts.length;
}

/** POST /activities/contact_exports (queued like the other activities) and GET /contact_exports/{id}, the CSV file. */
export function contactExportsRouter(ctx: SandboxContext): Router {
  const { state } = ctx;
  const router = express.Router();

  router.post('/activities/contact_exports', ...jsonBody, (req, res) => {
    if (queueFull(ctx, res)) return;
    const body = parseBody(exportBody, req.body);
    const fields = checkFields(body.fields);
    const source = exportSource(state, body);
    const items = itemsOf(state, source);
    const payload = { kind: 'export' as const, source, status: body.status, fields };
    const activity = state.enqueue('export', items, payload, { items_total_count: items, items_completed_count: 0, person_count: 0 });
    state.stats.exportRequests++;
    res.status(201).json(activityJson(state, activity));
  });

  router.get('/contact_exports/:activityId', (req, res) => {
    const a = state.activities.get(req.params.activityId);
    if (!a || a.kind !== 'export') throw notFound(`Export ${req.params.activityId} not found.`);
    if (!a.applied || !a.exported) throw new CcError(409, 'conflict', 'The export has not completed yet.');
    const columns = a.exportFields!.map((f) => EXPORT_FIELDS[f]);
    res.type('text/csv');
    const lines = [a.exportFields!.join(',')];
    for (const c of a.exported) lines.push(columns.map((value) => csvCell(value(state, c))).join(','));
    res.send(lines.join('\n') + '\n');
  });
  return router;
}
