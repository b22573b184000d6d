import { storeKinds, type StoreKind } from '../helpers/stores';
import type { RunJson } from '../../api/run-view';
import { createSandboxList, eventually, sandboxEmails, useRunStack } from '../mirror/helpers';

/**
 * Incremental, consent-safe delivery end to end through the HTTP API, on the real Temporal dev
 * server and the sandbox: a run sends only what changed since the ledger last saw it, and never
 * puts back a contact who left the list by themself (the sandbox, like Constant Contact, would).
 */

jest.setTimeout(300_000);

interface Stats {
  importRequests: number;
  importedContacts: number;
  removeRequests: number;
}

describe.each(storeKinds)('delivery ledger on %s', (kind: StoreKind) => {
  const stack = useRunStack(kind, 'ledger', 'warn');

  const admin = () => stack.app.as('admin');
  const email = (group: string, i: number) => `${group}.${String(i).padStart(3, '0')}@example.com`;
  const stats = async () => (await stack.app.sandboxControl<Stats>('GET', '/stats')).body;

  async function importProfiles(group: string, ids: number[], attrs: (i: number) => Record<string, unknown> = () => ({})): Promise<void> {
    const lines = ids.map((i) => JSON.stringify({ id: `${group}-${i}`, Email: email(group, i), First: `F${i}`, Group: group, ...attrs(i) }));
    const res = await admin().post('/v1/profiles/import', undefined, { raw: lines.join('\n') + '\n', contentType: 'application/x-ndjson' });
    expect(res.status).toBe(200);
  }

  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

  async function setup(group: string, size: number, syncMode: 'upsert' | 'mirror' = 'upsert'): Promise<{ exportId: string; segmentId: string; listId: string }> {
    await importProfiles(group, range(0, size));
    const segment = await admin().post('/v1/segments', { name: `Group ${group}`, rule: { attribute: 'Group', op: 'eq', value: group } });
    expect(segment.status).toBe(201);
    await refresh(segment.body.id);
    const listId = await createSandboxList(stack.app, `List ${group}`);
    const created = await admin().post('/v1/exports', {
      name: `Ledger ${group}`,
      connectionId: stack.connectionId,
      listId,
      mapping: { email: 'Email', firstName: 'First' },
      segmentIds: [segment.body.id],
      syncMode,
      schedule: { mode: 'off' },
    });
    expect(created.status).toBe(201);
    return { exportId: created.body.id, segmentId: segment.body.id, listId };
  }

  async function refresh(segmentId: string): Promise<void> {
    expect((await admin().post(`/v1/segments/${segmentId}/refresh`)).status).toBe(200);
  }

  async function run(exportId: string, body?: Record<string, unknown>): Promise<RunJson> {
    const res = await admin().post(`/v1/exports/${exportId}/runs`, body);
    expect(res.status).toBe(202);
    const runId = res.body.run.id as string;
    return eventually(async () => {
      const r = await admin().get<RunJson>(`/v1/runs/${runId}`);
      if (r.body.status === 'running') throw new Error(`run ${runId} still running`);
      return r.body;
    }, 180_000);
  }

  async function leave(listId: string, emails: string[]): Promise<void> {
    const res = await stack.app.sandboxControl<{ left: number }>('POST', `/lists/${listId}/members/leave`, { emails });
    expect(res.status).toBe(200);
    expect(res.body.left).toBe(emails.length);
  }

  async function suppressions(runId: string): Promise<{ profileId: string; email: string; reason: string }[]> {
    const res = await admin().get(`/v1/runs/${runId}/suppressions`);
    expect(res.status).toBe(200);
    return (res.text ?? '').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  }

  /** Counts that must reconcile on every run. */
  function expectReconciled(r: RunJson): void {
    const c = r.counts;
    expect(c.segmentProfiles).toBe(c.sent + c.unchanged + c.suppressed + c.rejected + c.duplicates);
    expect(c.sent).toBe(c.added + c.updated);
  }

  test('a second run sends nothing; changing 10 profiles sends exactly those 10; a mapping change or a full resync sends everyone', async () => {
    const { exportId } = await setup('inc', 30);
    const first = await run(exportId);
    expect(first).toMatchObject({ status: 'succeeded', counts: { segmentProfiles: 30, sent: 30, added: 30, unchanged: 0, suppressed: 0 } });
    expectReconciled(first);

    const before = await stats();
    const second = await run(exportId);
    expect(second).toMatchObject({ status: 'succeeded', counts: { sent: 0, unchanged: 30, suppressed: 0 } });
    expectReconciled(second);
    expect((await stats()).importRequests).toBe(before.importRequests);

    await importProfiles('inc', range(0, 10), (i) => ({ First: `Changed${i}` }));
    const beforeChange = await stats();
    const third = await run(exportId);
    expect(third.counts).toMatchObject({ sent: 10, updated: 10, added: 0, unchanged: 20 });
    expectReconciled(third);
    const afterChange = await stats();
    expect(afterChange.importedContacts - beforeChange.importedContacts).toBe(10);
    expect(stack.app.sandbox.state.contactByEmail(email('inc', 3))?.firstName).toBe('Changed3');

    expect((await admin().patch(`/v1/exports/${exportId}`, { mapping: { email: 'Email' } })).status).toBe(200);
    expect((await run(exportId)).counts).toMatchObject({ sent: 30, updated: 30, unchanged: 0 });
    expect((await run(exportId)).counts).toMatchObject({ sent: 0, unchanged: 30 });
    const resync = await run(exportId, { fullResync: true });
    expect(resync).toMatchObject({ fullResync: true, counts: { sent: 30, unchanged: 0 } });
  });

  test('a contact who left the list is not put back by an upsert run nor a mirror run, is suppressed as left_list, and is delivered again once they joined again', async () => {
    const { exportId, listId } = await setup('left', 20);
    expect((await run(exportId)).counts).toMatchObject({ sent: 20 });
    const leavers = [email('left', 2), email('left', 7)];
    await leave(listId, leavers);
    await importProfiles('left', [2, 7, 8], (i) => ({ First: `New${i}` }));

    const upsert = await run(exportId);
    expect(upsert.counts).toMatchObject({ sent: 1, updated: 1, unchanged: 17, suppressed: 2, suppressedByReason: { left_list: 2 } });
    expectReconciled(upsert);
    const members = await sandboxEmails(stack.app, listId);
    for (const e of leavers) expect(members).not.toContain(e);
    expect(members).toHaveLength(18);
    const rows = await suppressions(upsert.id);
    expect(rows.map((r) => r.email).sort()).toEqual(leavers);
    expect(rows.every((r) => r.reason === 'left_list')).toBe(true);
    // Contributors may not read suppressions (raw values).
    expect((await stack.app.as('contributor').get(`/v1/runs/${upsert.id}/suppressions`)).status).toBe(403);

    // Mirror mode neither re-adds them nor counts them as removals.
    expect((await admin().patch(`/v1/exports/${exportId}`, { syncMode: 'mirror' })).status).toBe(200);
    const mirror = await run(exportId);
    expect(mirror).toMatchObject({ status: 'succeeded', counts: { sent: 0, suppressed: 2, removed: 0 } });
    for (const e of leavers) expect(await sandboxEmails(stack.app, listId)).not.toContain(e);

    // One of them joins the list again (a Constant Contact user adds them): a change of theirs is delivered.
    const body = JSON.stringify({ import_data: [{ email: leavers[0], first_name: 'Joined' }], list_ids: [listId] });
    await stack.app.constantContact.importContacts(stack.connectionId, body);
    await eventually(async () => expect(await sandboxEmails(stack.app, listId)).toContain(leavers[0]));
    await importProfiles('left', [2], () => ({ First: 'AfterJoin' }));
    const afterJoin = await run(exportId);
    expect(afterJoin.counts).toMatchObject({ sent: 1, suppressed: 1 });
    expect(stack.app.sandbox.state.contactByEmail(leavers[0])?.firstName).toBe('AfterJoin');
    expect(await sandboxEmails(stack.app, listId)).not.toContain(leavers[1]);

    // A full resync sends everyone but still never the one who left.
    const resync = await run(exportId, { fullResync: true });
    expect(resync.counts).toMatchObject({ sent: 19, suppressed: 1 });
    expect(await sandboxEmails(stack.app, listId)).not.toContain(leavers[1]);
  });

  test('a dry run posts nothing, changes no ledger row, and its plan is what the real run then does', async () => {
    const { exportId, segmentId, listId } = await setup('dry', 20, 'mirror');
    expect((await run(exportId)).counts).toMatchObject({ sent: 20 });
    await leave(listId, [email('dry', 0)]);
    await importProfiles('dry', [1, 2], (i) => ({ First: `Changed${i}` }));
    await importProfiles('dry', [20, 21, 22]);
    await importProfiles('dry', [19], () => ({ Group: 'elsewhere' }));
    await refresh(segmentId);

    const ledgerBefore = await stack.app.store.db.all('SELECT email_key, hash, state, run_id FROM delivery_ledger ORDER BY email_key');
    const before = await stats();
    const dry = await run(exportId, { dryRun: true });
    expect(dry).toMatchObject({ status: 'succeeded', dryRun: true, counts: { sent: 0 } });
    const after = await stats();
    expect(after.importRequests).toBe(before.importRequests);
    expect(after.removeRequests).toBe(before.removeRequests);
    expect(await stack.app.store.db.all('SELECT email_key, hash, state, run_id FROM delivery_ledger ORDER BY email_key')).toEqual(ledgerBefore);
    expect(dry.plan).toMatchObject({ toAdd: 3, toUpdate: 2, unchanged: 16, suppressed: 1, suppressedByReason: { left_list: 1 }, rejected: 0, toRemove: 1, needsApproval: false });
    expect(dry.plan!.requests.imports).toBe(1);

    const real = await run(exportId);
    expect(real.counts).toMatchObject({
      added: dry.plan!.toAdd,
      updated: dry.plan!.toUpdate,
      unchanged: dry.plan!.unchanged,
      suppressed: dry.plan!.suppressed,
      removed: dry.plan!.toRemove,
    });
    expectReconciled(real);
  });

  test('an import that ends failed leaves its contacts undelivered: the next run sends them again', async () => {
    const { exportId, listId } = await setup('fail', 12);
    expect((await stack.app.sandboxControl('PUT', '/faults', { failImports: 1 })).status).toBe(200);
    const failed = await run(exportId);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'import_failed' }, counts: { sent: 12, imported: 0 } });
    expect(await sandboxEmails(stack.app, listId)).toHaveLength(0);
    expect(await stack.app.store.db.get('SELECT COUNT(*) AS n FROM delivery_ledger WHERE list_id = ?', [listId])).toEqual({ n: 0 });
    const again = await run(exportId);
    expect(again).toMatchObject({ status: 'succeeded', counts: { sent: 12, added: 12, imported: 12 } });
    expect(await sandboxEmails(stack.app, listId)).toHaveLength(12);
  });

  test('a dry run does not hold the export: a real run starts while it goes', async () => {
    const { exportId } = await setup('side', 5);
    const dry = await admin().post(`/v1/exports/${exportId}/runs`, { dryRun: true });
    expect(dry.status).toBe(202);
    const realRun = await run(exportId);
    expect(realRun.status).toBe('succeeded');
    expect((await admin().post(`/v1/exports/${exportId}/runs`, { dryRun: 'yes' })).status).toBe(400);
  });
});
