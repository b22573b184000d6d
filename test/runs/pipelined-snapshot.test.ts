import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import type { StoreKind } from '../helpers/stores';
import { createTestApp } from '../helpers/app';
import { startInProcessWorker, uniqueTaskQueue } from '../helpers/worker';
import { seedProfiles, setupExport, startRunViaApi, waitForRun } from './fixtures';

/**
 * A fresh run's uploads start on the snapshot's first committed rows: its first import is posted
 * while the snapshot is still being written (the run's own workflow history says when each step
 * ended). That every contact of a run lands exactly once is shown by the other run tests, all of
 * which now take their snapshots this way.
 */

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const PROFILES = 400_000;

/** When each activity of the history completed, by activity type, in order; with its result. */
function completions(events: HistoryEvent[]): { type: string; at: number; result: unknown }[] {
  const scheduled = new Map<string, string>();
  const out: { type: string; at: number; result: unknown }[] = [];
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '');
    const c = e.activityTaskCompletedEventAttributes;
    if (c) {
      const payload = c.result?.payloads?.[0]?.data;
      out.push({
        type: scheduled.get(String(c.scheduledEventId)) ?? '',
        at: Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6),
        result: payload ? JSON.parse(Buffer.from(payload).toString('utf8')) : undefined,
      });
    }
  }
  return out;
}

describe.each<StoreKind>(['sqlite', 'postgres'])('a pipelined snapshot (%s)', (kind) => {
  test('the first import is posted before the snapshot is complete', async () => {
    const app = await createTestApp({
      kind,
      sandbox: { importMsPerContact: 0, importMinMs: 20 },
      env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue(`pipelined-${kind}`), CC_MAX_CONTACTS_PER_IMPORT: '2000' },
    });
    const worker = await startInProcessWorker({ config: app.config, store: app.store, logger: app.logger });
    try {
      await seedProfiles(app.store, PROFILES, { awkward: false });
      const { exportId } = await setupExport(app);
      const run = await startRunViaApi(app, exportId);
      // Once the snapshot is complete the rest of the run (200 imports) is of no interest here.
      for (;;) {
        const progress = await app.store.snapshots.progress(run.id);
        if (progress && progress.taken === progress.profiles) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const snapshotTaken = await waitForHistory(app, run.workflowId, (done) => done.some((d) => d.type === 'snapshotRun'));
      expect((await app.as('admin').post(`/v1/runs/${run.id}/cancel`)).status).toBe(202);
      expect(await waitForRun(app, run.id, { timeoutMs: 60_000 })).toMatchObject({ status: 'cancelled', counts: { segmentProfiles: PROFILES } });

      const snapshot = snapshotTaken.find((d) => d.type === 'snapshotRun')!;
      expect(snapshot.result).toMatchObject({ segmentProfiles: PROFILES });
      const firstPost = snapshotTaken.find((d) => d.type === 'uploadChunk' && (d.result as { posted?: boolean }).posted);
      expect(firstPost).toBeDefined();
      expect(firstPost!.at).toBeLessThan(snapshot.at);
      // Dropped when the run ends (after its status is recorded): once its workflow closed.
      await app.temporal.workflow.getHandle(run.workflowId).result().catch(() => undefined);
      expect(await app.store.snapshots.progress(run.id)).toBeUndefined();
    } finally {
      await worker.stop();
      await app.close();
    }
  }, 300_000);
});

async function waitForHistory(app: { temporal: Client }, workflowId: string, until: (done: ReturnType<typeof completions>) => boolean) {
  for (;;) {
    const done = completions((await app.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? []);
    if (until(done)) return done;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
