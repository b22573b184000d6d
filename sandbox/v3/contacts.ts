import express, { type Router } from 'express';
import type { SandboxContext } from '../context';
import { badRequest, boolParam, decodeCursor, encodeCursor, intParam, iso, stringParam } from '../http';
import type { Contact, Permission, SandboxState } from '../state';

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

/** GET /contacts: filtered by lists, status or email, paged by cursor, with optional includes. */
export function contactsRouter(ctx: SandboxContext): Router {
  const { state } = ctx;
  const router = express.Router();

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
    const lists = cur.l && state.listsOf(cur.l);
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
  return router;
}
