import express, { type Router } from 'express';
import { z } from 'zod';
import type { SandboxContext } from '../context';
import { badRequest, CcError, notFound } from '../http';
import type { Contact } from '../state';
import { activityJson, checkJson, listIdsOf, queueFull } from './shared';

const exportBody = z.strictObject({
  list_ids: z.array(z.string()).optional(),
  fields: z.array(z.string()).optional(),
});
const EXPORT_FIELDS = new Set(['contact_id', 'email', 'first_name', 'last_name', 'job_title', 'company_name', 'permission_to_send']);

function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** POST /activities/contact_exports (queued like the other activities) and GET /contact_exports/{id}, the CSV file. */
export function contactExportsRouter(ctx: SandboxContext): Router {
  const { state } = ctx;
  const router = express.Router();

  router.post('/activities/contact_exports', checkJson, express.json({ type: () => true, limit: '1mb' }), (req, res) => {
    if (queueFull(ctx, res)) return;
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
  return router;
}
