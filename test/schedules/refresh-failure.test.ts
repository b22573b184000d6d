import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DEFAULT_LIST_ID } from '../../sandbox/server';
import type { Store } from '../../store';
import type { RunJson } from '../../api/run-view';
import { connectSandboxConnection, createTestApp, type TestApp } from '../helpers/app';
import { startInProcessWorker, uniqueTaskQueue, type InProcessWorker } from '../helpers/worker';

/**
 * When the refresh cannot refresh the segments, its exports do not run on stale membership, and
 * they are not silent either: each gets a `skipped` run saying why, and the refresh workflow fails
 * (visible in the Temporal UI).
 */

/** The store the worker sees: segment refresh fails at once (non-retryable), everything else is the real store. */
function storeWithBrokenSegmentRefresh(store: Store): Store {
  const segments = new Proxy(store.segments, {
    get(target, prop) {
      if (prop === 'refresh') {
        return async () => {
          throw ApplicationFailure.nonRetryable('the profile store is unreachable', 'profile_store_unavailable');
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'segments') return segments;
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('a refresh whose segment refresh fails', () => {
  let app: TestApp;
  let worker: InProcessWorker;

  beforeAll(async () => {
    app = await createTestApp({ kind: 'sqlite', env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('refresh-failure'), LOG_LEVEL: 'info' } });
    worker = await startInProcessWorker({ config: app.config, store: storeWithBrokenSegmentRefresh(app.store), logger: app.logger });
  });

  afterAll(async () => {
    await worker?.stop();
    await app?.close();
  });

  it('records a skipped run for every with-refresh export and fails the refresh workflow', async () => {
    const admin = app.as('admin');
    const connectionId = await connectSandboxConnection(app);
    const segment = await admin.post('/v1/segments', { name: 'Everyone', rule: { all: [] } });
    const exportIds: Record<string, string> = {};
    for (const mode of ['with-refresh', 'off'] as const) {
      const res = await admin.post('/v1/exports', {
        name: `Mode ${mode}`,
        connectionId,
        listId: DEFAULT_LIST_ID,
        mapping: { email: 'EmailAddress' },
        segmentIds: [segment.body.id],
        schedule: { mode },
      });
      expect(res.status).toBe(201);
      exportIds[mode] = res.body.id;
    }

    const started = await admin.post('/v1/refresh');
    expect(started.status).toBe(202);
    const failure = await app.temporal.workflow
      .getHandle(started.body.workflowId)
      .result()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toMatchObject({ type: 'segment_refresh_failed' });

    const runs = async (id: string) => (await admin.get<{ items: RunJson[] }>(`/v1/exports/${id}/runs`)).body.items;
    expect(await runs(exportIds['with-refresh'])).toEqual([
      expect.objectContaining({ status: 'skipped', trigger: 'refresh', error: expect.objectContaining({ code: 'segment_refresh_failed' }) }),
    ]);
    expect(await runs(exportIds.off)).toEqual([]);
  });
});
