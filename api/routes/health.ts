import { z } from 'zod';
import type { AppDeps } from '../deps';
import { openApiDocument, type RouteRegistry } from '../http';

export function registerHealthRoutes(routes: RouteRegistry, deps: AppDeps): void {
  routes.add(
    { method: 'get', path: '/healthz', summary: 'The process is up', tag: 'health', roles: 'public', response: { status: 200, schema: z.object({ status: z.literal('ok') }) } },
    async () => ({ status: 'ok' }),
  );

  routes.add(
    {
      method: 'get',
      path: '/readyz',
      summary: 'The store and Temporal answer',
      tag: 'health',
      roles: 'public',
      response: { status: 200, schema: z.object({ status: z.enum(['ready', 'unavailable']), down: z.array(z.string()) }) },
      errors: { 503: 'the store or Temporal does not answer' },
    },
    async ({ res }) => {
      const [store, temporal] = await Promise.all([deps.store.ping(), temporalAnswers(deps)]);
      const down = [...(store ? [] : ['store']), ...(temporal ? [] : ['temporal'])];
      res.status(down.length ? 503 : 200).json({ status: down.length ? 'unavailable' : 'ready', down });
      return undefined;
    },
  );

  routes.add(
    { method: 'get', path: '/v1/openapi.json', summary: 'This OpenAPI document', tag: 'health', roles: 'public' },
    async () => openApiDocument(routes.routes, { title: 'Segment export to Constant Contact', version: '1.0.0' }),
  );
}

async function temporalAnswers(deps: AppDeps): Promise<boolean> {
  try {
    await withTimeout(deps.temporal.workflowService.getSystemInfo({}), 3000);
    return true;
  } catch {
    return false;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timeout')), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}
