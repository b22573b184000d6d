import express, { type Router } from 'express';
import type { SandboxContext } from '../context';
import { badRequest, boolParam, iso, notFound, offsetPage, stringParam } from '../http';
import type { ContactList } from '../state';

function listJson(list: ContactList, membership: string | undefined) {
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
  return out;
}

function membershipParam(q: Record<string, unknown>): string | undefined {
  const v = stringParam(q, 'include_membership_count');
  if (v === undefined || v === '' || v === 'none') return undefined;
  if (v !== 'all' && v !== 'active') throw badRequest("'include_membership_count' must be all, active or none.");
  return v;
}

/** GET /contact_lists (paged, optional membership counts) and GET /contact_lists/{id}. */
export function listsRouter(ctx: SandboxContext): Router {
  const { state } = ctx;
  const router = express.Router();

  router.get('/contact_lists', (req, res) => {
    const page = offsetPage(req.query as Record<string, unknown>, 1000, (q) => ({ membership: membershipParam(q), includeCount: boolParam(q, 'include_count') }));
    const { membership, includeCount } = page.filters;
    const all = [...state.lists.values()];
    res.json({
      lists: page.slice(all).map((l) => listJson(l, membership)),
      ...(includeCount ? { lists_count: all.length } : {}),
      ...page.links('/v3/contact_lists', all.length),
    });
  });

  router.get('/contact_lists/:listId', (req, res) => {
    const list = state.lists.get(req.params.listId);
    if (!list) throw notFound(`List ${req.params.listId} not found.`);
    res.json(listJson(list, membershipParam(req.query as Record<string, unknown>)));
  });
  return router;
}
