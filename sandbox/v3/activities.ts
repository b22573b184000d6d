import express, { type Router } from 'express';
import { z } from 'zod';
import type { SandboxContext } from '../context';
import { badRequest, notFound, offsetPage, stringParam } from '../http';
import { activityJson, jsonBody, listIdsOf, parseBody, queueFull } from './shared';

const removeBody = z.strictObject({
  source: z.record(z.string(), z.unknown()),
  list_ids: z.array(z.string()),
});

/**
 * The bulk activities: POST /activities/remove_list_memberships (queued, applied when its time
 * comes; the JSON import is in imports.ts), GET /activities and GET /activities/{id}.
 */
export function activitiesRouter(ctx: SandboxContext): Router {
  const { state } = ctx;
  const router = express.Router();

  router.post('/activities/remove_list_memberships', ...jsonBody, (req, res) => {
    if (queueFull(ctx, res)) return;
    const { source, list_ids: targetsRaw } = parseBody(removeBody, req.body);
    const targets = listIdsOf(state, targetsRaw, 'list_ids');
    const keys = Object.keys(source);
    if (keys.length !== 1) throw badRequest("'source' must name exactly one of list_ids, contact_ids, all_active_contacts.");
    const [kind] = keys;
    let payloadSource;
    let items = 0;
    if (kind === 'list_ids') {
      payloadSource = { listIds: listIdsOf(state, source.list_ids, 'source.list_ids') };
      items = state.membershipCount(payloadSource.listIds);
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
      items = state.membershipCount(targets);
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

  router.get('/activities', (req, res) => {
    const page = offsetPage(req.query as Record<string, unknown>, 500, (q) => ({ state: stringParam(q, 'state') }));
    const wanted = page.filters.state;
    if (wanted !== undefined && !['initialized', 'processing', 'completed', 'cancelled', 'failed', 'timed_out'].includes(wanted)) {
      throw badRequest("'state' must be one of initialized, processing, completed, cancelled, failed, timed_out.");
    }
    const all = state.recentActivities().map((a) => activityJson(state, a)).filter((a) => wanted === undefined || a.state === wanted);
    // List items carry the status counts (as Constant Contact's do): one read settles many imports.
    res.json({
      activities: page.slice(all).map(({ activity_errors: _e, ...summary }) => summary),
      ...page.links('/v3/activities', all.length),
    });
  });

  router.get('/activities/:activityId', (req, res) => {
    const a = state.activities.get(req.params.activityId);
    if (!a) throw notFound(`Activity ${req.params.activityId} not found.`);
    res.json(activityJson(state, a));
  });
  return router;
}
