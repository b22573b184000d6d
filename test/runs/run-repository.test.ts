import { newId } from '../../common/ids';
import { runJson, runPercent } from '../../api/run-view';
import type { Store } from '../../store';
import { createTestStore, storeKinds, type TestStore } from '../helpers/stores';

/** The run records on both stores: one running run per export, chunk counts, rejects. */

async function insertExport(store: Store): Promise<string> {
  const id = newId('exp');
  const now = new Date().toISOString();
  await store.db.run(
    `INSERT INTO exports (id, name, connection_id, list_id, mapping, sync_mode, max_removal_percent, schedule, created_by_role, created_at, updated_at)
     VALUES (?, 'E', NULL, '00000000-0000-4000-8000-000000000001', ?, 'upsert', 20, ?, 'admin', ?, ?)`,
    [id, JSON.stringify({ email: 'Email' }), JSON.stringify({ mode: 'off' }), now, now],
  );
  return id;
}

const temporal = { address: 'x', namespace: 'default', taskQueue: 'q', uiUrl: 'http://127.0.0.1:8233' };

describe.each(storeKinds)('run repository (%s)', (kind) => {
  let t: TestStore;
  beforeAll(async () => {
    t = await createTestStore(kind);
  });
  afterAll(async () => t?.destroy());

  test('one running run per export: a concurrent second insert gets the running run id', async () => {
    const exportId = await insertExport(t.store);
    const at = new Date().toISOString();
    const runs = await Promise.all(
      [0, 1, 2, 3].map(() => {
        const id = newId('run');
        return t.store.runs.createRunning({ id, exportId, trigger: 'on-demand', workflowId: `wf-${id}`, startedAt: at });
      }),
    );
    const created = runs.filter((r) => r.created);
    expect(created).toHaveLength(1);
    const runId = created[0].created ? created[0].run.id : '';
    for (const r of runs.filter((x) => !x.created)) expect(r).toEqual({ created: false, runningRunId: runId });

    const finished = await t.store.runs.finish(runId, { status: 'succeeded', error: null, finishedAt: new Date().toISOString() });
    expect(finished).toMatchObject({ status: 'succeeded', phase: 'done' });
    // Finishing again changes nothing.
    const again = await t.store.runs.finish(runId, { status: 'failed', error: { code: 'x', message: 'y' }, finishedAt: new Date().toISOString() });
    expect(again).toMatchObject({ status: 'succeeded', error: null });
    const next = await t.store.runs.createRunning({ id: newId('run'), exportId, trigger: 'schedule', workflowId: 'wf', startedAt: new Date().toISOString() });
    expect(next.created).toBe(true);
  });

  test('counts come from chunk rows: recording a chunk twice counts it once; rejects are idempotent', async () => {
    const exportId = await insertExport(t.store);
    const id = newId('run');
    await t.store.runs.createRunning({ id, exportId, trigger: 'on-demand', workflowId: 'wf', startedAt: new Date().toISOString() });
    await t.store.runs.setCounts(id, { segmentProfiles: 10 });
    await t.store.runs.setPhase(id, 'uploading');
    await t.store.runs.setChunksTotal(id, 2);
    const rejects = [
      { snapshotSeq: 3, profileId: 'p3', email: null, reason: 'missing_email' as const },
      { snapshotSeq: 4, profileId: 'p4', email: 'A@x.com', reason: 'duplicate_email' as const },
    ];
    const chunk = { runId: id, chunkNo: 1, firstSeq: 1, lastSeq: 6, contacts: 4, bytes: 100, rejected: 1, duplicates: 1, state: 'prepared' as const };
    await t.store.runs.saveChunk(chunk, rejects);
    await t.store.runs.saveChunk(chunk, rejects);
    await t.store.runs.setChunkActivity(id, 1, 'act-1');
    const kept = await t.store.runs.setChunkActivity(id, 1, 'act-2');
    expect(kept.activityId).toBe('act-1');
    await t.store.runs.saveChunk({ ...chunk, chunkNo: 2, firstSeq: 7, lastSeq: 10, contacts: 4, rejected: 0, duplicates: 0 }, []);
    await t.store.runs.setChunkActivity(id, 2, 'act-3');
    await t.store.runs.finishChunk(id, 1, { state: 'completed', imported: 3, unsubscribed: 1, ccErrors: 0 });
    await t.store.runs.finishChunk(id, 1, { state: 'completed', imported: 3, unsubscribed: 1, ccErrors: 0 });

    const run = (await t.store.runs.get(id))!;
    expect(run.counts).toMatchObject({ segmentProfiles: 10, sent: 8, rejected: 1, duplicates: 1, imported: 3, unsubscribed: 1, constantContactErrors: 0 });
    expect(run).toMatchObject({ chunksDone: 1, chunksTotal: 2, chunksUploaded: 2 });
    expect(runPercent(run)).toBeGreaterThan(50);
    expect(runPercent(run)).toBeLessThan(100);
    const json = runJson(run, temporal);
    expect(json.progress).toEqual({ phase: 'uploading', chunksDone: 1, chunksTotal: 2, percent: runPercent(run) });

    const listed = [];
    for await (const r of t.store.runs.rejects(id, 1)) listed.push(r);
    expect(listed).toEqual(rejects);
    expect(await t.store.runs.countRejects(id)).toBe(2);
  });

  test("an export's runs newest first, paged; skipped runs carry their reason", async () => {
    const exportId = await insertExport(t.store);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const run = await t.store.runs.createSkipped(
        { id: newId('run'), exportId, trigger: 'schedule', workflowId: '', startedAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() },
        { code: 'run_in_progress', message: 'another run was going' },
      );
      ids.push(run.id);
      expect(run).toMatchObject({ status: 'skipped', phase: 'done', error: { code: 'run_in_progress' } });
    }
    const first = await t.store.runs.listByExport(exportId, { limit: 3 });
    expect(first.items.map((r) => r.id)).toEqual(ids.slice(2).reverse());
    const second = await t.store.runs.listByExport(exportId, { limit: 3, cursor: first.nextCursor! });
    expect(second.items.map((r) => r.id)).toEqual(ids.slice(0, 2).reverse());
    expect(second.nextCursor).toBeNull();
    // A skipped run without a workflow links to the export's runs in the Temporal UI.
    expect(runJson(second.items[0], temporal).temporalUiUrl).toBe(
      `http://127.0.0.1:8233/namespaces/default/workflows?query=${encodeURIComponent(`ExportId="${exportId}"`)}`,
    );
  });
});
