import express, { type Router } from 'express';
import type { SandboxContext } from '../context';
import { iso, offsetPage } from '../http';

/** GET /contact_custom_fields (paged). */
export function customFieldsRouter(ctx: SandboxContext): Router {
  const { state } = ctx;
  const router = express.Router();

  router.get('/contact_custom_fields', (req, res) => {
    const page = offsetPage(req.query as Record<string, unknown>, 100, () => ({}));
    const all = [...state.customFields.values()];
    res.json({
      custom_fields: page.slice(all).map((f) => ({
        custom_field_id: f.id,
        label: f.label,
        name: f.name,
        type: f.type,
        created_at: iso(f.createdAt),
        updated_at: iso(f.updatedAt),
      })),
      ...page.links('/v3/contact_custom_fields', all.length),
    });
  });
  return router;
}
