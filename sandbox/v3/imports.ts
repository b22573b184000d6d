import express, { type Router } from 'express';
import type { SandboxContext } from '../context';
import { badRequest } from '../http';
import type { ImportPayload } from '../state';
import { activityJson, checkJson, listIdsOf, queueFull } from './shared';

/**
 * POST /activities/contacts_json_import. The main thread reads the body as bytes; the import thread
 * parses and validates it (import-body.ts), so that a 4 MB body never holds up the requests that
 * arrive behind it. What needs the account (the lists exist, room in the queue) is checked here
 * once it answers; bodies are answered and queued in the order they were read.
 */
export function importsRouter(ctx: SandboxContext): Router {
  const { state, options } = ctx;
  const router = express.Router();

  router.post('/activities/contacts_json_import', checkJson, express.raw({ type: () => true, limit: options.maxBodyBytes }), async (req, res) => {
    if (queueFull(ctx, res)) return;
    const raw: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const { verdict, persons } = await ctx.importThread.parse(raw, {
      maxImportBytes: options.maxImportBytes,
      maxImportContacts: options.maxImportContacts,
      customFields: [...state.customFieldIdByName],
    });
    if (!verdict.ok) throw badRequest(verdict.message, verdict.key);
    const listIds = listIdsOf(state, verdict.listIds, 'list_ids');
    if (verdict.truncated) {
      state.stats.truncatedRequests++;
      state.stats.truncatedContacts += verdict.received - verdict.kept;
    }
    if (verdict.invalidItem !== undefined) throw badRequest(verdict.invalidItem, 'import_data.invalid');
    // The queue may have filled up while the body was parsed.
    if (queueFull(ctx, res)) return;
    const payload: ImportPayload = { kind: 'import', listIds, persons: { batches: [], count: 0 } };
    const activity = state.enqueue(
      'import',
      verdict.kept,
      payload,
      {
        items_total_count: verdict.kept,
        items_completed_count: 0,
        person_count: 0,
        error_count: verdict.errorCount,
        correctable_count: verdict.correctableCount,
        cannot_add_to_list_count: 0,
      },
    );
    // The contacts follow; should the thread stop first (the sandbox closing), there is nothing to apply.
    activity.ready = persons.then(
      (packed) => void (payload.persons = packed),
      () => undefined,
    );
    state.stats.importRequests++;
    if (ctx.faults.failImports) {
      ctx.faults.failImports--;
      activity.outcome = 'failed';
    } else {
      state.stats.importedContacts += verdict.kept;
    }
    res.status(201).json(activityJson(state, activity));
  });
  return router;
}
