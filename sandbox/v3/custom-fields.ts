import express, { type Router } from 'express';
import type { SandboxContext } from '../context';
import { decodeCursor, encodeCursor, intParam, iso, stringParam } from '../http';

/** GET /contact_custom_fields (paged). */
export function customFieldsRouter(ctx: SandboxContext): Router {
  const { state } = ctx;
  const router = express.Router();

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
  return router;
}
