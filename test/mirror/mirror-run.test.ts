import { storeKinds, type StoreKind } from '../helpers/stores';
import { removalsWorkflowId } from '../../workflows/mirrorRemovals';
import type { RunJson } from '../../api/run-view';
import { createSandboxList, eventually, sandboxEmails, sandboxStats, useRunStack } from './helpers';

/**
 * Mirror mode end to end, as a user drives it through the HTTP API: profiles imported, a segment
 * refreshed, an export run by the export-run workflow (with its removals child workflow) on the
 * real Temporal dev server, against the real sandbox at its real limit of 4 requests a second.
 */

jest.setTimeout(240_000);

describe.each(storeKinds)('mirror mode end to end on %s', (kind: StoreKind) => {
  const stack = useRunStack(kind, 'mirror-e2e', 'info');

  const admin = () => stack.app.as('admin');

  /** Emails of a group of profiles (mixed case in the profile store: the list compares them normalized). */
  const email = (group: string, i: number) => `${group}.${String(i).padStart(3, '0')}@example.com`;

  async function importProfiles(group: string, from: number, to: number, member: boolean): Promise<void> {
    const lines: string[] = [];
    for (let i = from; i < to; i++) {
      lines.push(JSON.stringify({ id: `${group}-${i}`, Email: i % 4 === 0 ? email(group, i).toUpperCase() : email(group, i), Group: group, Member: member }));
    }
    const res = await admin().post('/v1/profiles/import', undefined, { raw: lines.join('\n') + '\n', contentType: 'application/x-ndjson' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ upserted: to - from, rejected: 0 });
  }

  async function setup(group: string, size: number, exportFields: Record<string, unknown> = {}): Promise<{ exportId: string; segmentId: string; listId: string }> {
    await importProfiles(group, 0, size, true);
    const segment = await admin().post('/v1/segments', {
      name: `Members of ${group}`,
      rule: { all: [{ attribute: 'Group', op: 'eq', value: group }, { attribute: 'Member', op: 'eq', value: true }] },
    });
    expect(segment.status).toBe(201);
    await refresh(segment.body.id, size);
    const listId = await createSandboxList(stack.app, `List ${group}`);
    const created = await admin().post('/v1/exports', {
      name: `Mirror ${group}`,
      connectionId: stack.connectionId,
      listId,
      mapping: { email: 'Email' },
      segmentIds: [segment.body.id],
      syncMode: 'mirror',
      schedule: { mode: 'off' },
      ...exportFields,
    });
    expect(created.status).toBe(201);
    return { exportId: created.body.id, segmentId: segment.body.id, listId };
  }

  async function refresh(segmentId: string, expected: number): Promise<void> {
    const res = await admin().post(`/v1/segments/${segmentId}/refresh`);
    expect(res.status).toBe(200);
    expect(res.body.memberCount).toBe(expected);
  }

  async function startRun(exportId: string): Promise<string> {
    const res = await admin().post(`/v1/exports/${exportId}/runs`);
    expect(res.status).toBe(202);
    return res.body.run.id;
  }

  async function waitForRun(runId: string, until: (run: RunJson) => boolean = (r) => r.status !== 'running'): Promise<RunJson> {
    return eventually(async () => {
      const res = await admin().get<RunJson>(`/v1/runs/${runId}`);
      if (res.status !== 200 || !until(res.body)) throw new Error(`run ${runId}: ${JSON.stringify(res.body)}`);
      return res.body;
    }, 120_000);
  }

  const emails = (group: string, from: number, to: number) => Array.from({ length: to - from }, (_, k) => email(group, from + k)).sort();

  test('mirror mode: exactly the profiles taken out of the segment leave the list; in upsert mode nobody leaves', async () => {
    const { exportId, segmentId, listId } = await setup('alpha', 40);

    const first = await waitForRun(await startRun(exportId));
    expect(first).toMatchObject({ status: 'succeeded', error: null });
    expect(first.counts).toMatchObject({ segmentProfiles: 40, imported: 40, removed: 0, plannedRemovals: 0 });
    expect(await sandboxEmails(stack.app, listId)).toEqual(emails('alpha', 0, 40));

    // Five profiles leave the segment (12.5% of the list: within the default 20%).
    await importProfiles('alpha', 0, 5, false);
    await refresh(segmentId, 35);
    const before = await sandboxStats(stack.app);
    const second = await waitForRun(await startRun(exportId));
    expect(second).toMatchObject({ status: 'succeeded', error: null, progress: { phase: 'done' } });
    expect(second.counts).toMatchObject({ segmentProfiles: 35, removed: 5, plannedRemovals: 5 });
    expect(await sandboxEmails(stack.app, listId)).toEqual(emails('alpha', 5, 40));
    // Removed from the list, not deleted: the account still has them.
    for (const e of emails('alpha', 0, 5)) expect(stack.app.sandbox.state.contactByEmail(e)).toBeDefined();
    const after = await sandboxStats(stack.app);
    expect(after.removeRequests - before.removeRequests).toBe(1);
    expect(after.removedMemberships - before.removedMemberships).toBe(5);

    // The same export in upsert mode: profiles leaving the segment stay on the list.
    const patched = await admin().patch(`/v1/exports/${exportId}`, { syncMode: 'upsert' });
    expect(patched.status).toBe(200);
    await importProfiles('alpha', 5, 10, false);
    await refresh(segmentId, 30);
    const beforeUpsert = await sandboxStats(stack.app);
    const third = await waitForRun(await startRun(exportId));
    expect(third).toMatchObject({ status: 'succeeded', error: null });
    expect(third.counts).toMatchObject({ segmentProfiles: 30, removed: 0 });
    expect(third.counts.plannedRemovals ?? 0).toBe(0);
    expect(await sandboxEmails(stack.app, listId)).toEqual(emails('alpha', 5, 40));
    const afterUpsert = await sandboxStats(stack.app);
    expect(afterUpsert.removeRequests).toBe(beforeUpsert.removeRequests);
    // Every run reads the list first (one contact export), whatever its mode.
    expect(afterUpsert.exportRequests - beforeUpsert.exportRequests).toBe(1);

    expect(afterUpsert.throttled).toBe(0);
    expect(afterUpsert.maxRequestsInOneSecond).toBeLessThanOrEqual(4);
  });

  test('a run that would remove 50% waits for approval, a worker restart changes nothing, and approving removes them', async () => {
    const { exportId, segmentId, listId } = await setup('beta', 20);
    expect((await waitForRun(await startRun(exportId))).status).toBe('succeeded');
    expect(await sandboxEmails(stack.app, listId)).toHaveLength(20);

    await importProfiles('beta', 0, 10, false);
    await refresh(segmentId, 10);
    const runId = await startRun(exportId);
    const waiting = await waitForRun(runId, (r) => r.progress.phase === 'awaiting-approval' || r.status !== 'running');
    expect(waiting).toMatchObject({ status: 'running', progress: { phase: 'awaiting-approval' } });
    expect(waiting.counts).toMatchObject({ plannedRemovals: 10, removed: 0 });

    // Only admins decide, and only approve or reject.
    expect((await stack.app.as('contributor').post(`/v1/runs/${runId}/removals`, { decision: 'approve' })).status).toBe(403);
    expect((await stack.app.as('none').post(`/v1/runs/${runId}/removals`, { decision: 'approve' })).status).toBe(401);
    const bad = await admin().post(`/v1/runs/${runId}/removals`, { decision: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect((await admin().post(`/v1/runs/${runId}/removals`, { decision: 'approve', extra: 1 })).status).toBe(400);
    expect((await admin().post('/v1/runs/run_000000000000000000000000000/removals', { decision: 'approve' })).status).toBe(404);

    // The worker goes away and a new one starts while the run waits: nothing is lost, nobody removed.
    await stack.restartWorker();
    const still = await waitForRun(runId, (r) => r.progress.phase === 'awaiting-approval');
    expect(still.status).toBe('running');
    expect(await sandboxEmails(stack.app, listId)).toHaveLength(20);

    const approved = await admin().post(`/v1/runs/${runId}/removals`, { decision: 'approve' });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ decision: 'approved', run: { id: runId } });
    const done = await waitForRun(runId);
    expect(done).toMatchObject({ status: 'succeeded', error: null });
    expect(done.counts).toMatchObject({ segmentProfiles: 10, plannedRemovals: 10, removed: 10 });
    expect(await sandboxEmails(stack.app, listId)).toEqual(emails('beta', 10, 20));

    // The removals workflow's history carries ids and counts, never an email.
    const history = JSON.stringify(await stack.app.temporal.workflow.getHandle(removalsWorkflowId(done.workflowId)).fetchHistory()).toLowerCase();
    expect(history).toContain('decideremovals');
    for (const e of emails('beta', 0, 20)) expect(history).not.toContain(e);
    expect(history).not.toContain('@example.com');

    // Decided and done: another decision is refused.
    const again = await admin().post(`/v1/runs/${runId}/removals`, { decision: 'reject' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('run_not_awaiting_approval');

    const stats = await sandboxStats(stack.app);
    expect(stats.throttled).toBe(0);
    expect(stats.maxRequestsInOneSecond).toBeLessThanOrEqual(4);
  });

  test('rejecting keeps every member and ends the run succeeded without removals', async () => {
    const { exportId, segmentId, listId } = await setup('gamma', 12, { maxRemovalPercent: 10 });
    expect((await waitForRun(await startRun(exportId))).status).toBe('succeeded');

    await importProfiles('gamma', 0, 6, false);
    await refresh(segmentId, 6);
    const runId = await startRun(exportId);
    await waitForRun(runId, (r) => r.progress.phase === 'awaiting-approval');
    const before = await sandboxStats(stack.app);
    const rejected = await admin().post(`/v1/runs/${runId}/removals`, { decision: 'reject' });
    expect(rejected.status).toBe(200);
    expect(rejected.body.decision).toBe('rejected');
    const done = await waitForRun(runId);
    expect(done).toMatchObject({ status: 'succeeded', error: null });
    expect(done.counts).toMatchObject({ plannedRemovals: 6, removed: 0 });
    expect(await sandboxEmails(stack.app, listId)).toEqual(emails('gamma', 0, 12));
    expect((await sandboxStats(stack.app)).removeRequests).toBe(before.removeRequests);

    // A finished run takes no decision.
    expect((await admin().post(`/v1/runs/${runId}/removals`, { decision: 'approve' })).status).toBe(409);
  });

  test('nobody deciding within REMOVAL_APPROVAL_TIMEOUT_SECONDS ends the run without removals', async () => {
    // The worker's configuration sets the wait (here 2 s instead of the default 24 h).
    await stack.restartWorker({ config: { ...stack.app.config, exports: { ...stack.app.config.exports, removalApprovalTimeoutMs: 2000 } } });
    try {
      const { exportId, segmentId, listId } = await setup('delta', 8);
      expect((await waitForRun(await startRun(exportId))).status).toBe('succeeded');
      await importProfiles('delta', 0, 4, false);
      await refresh(segmentId, 4);
      const runId = await startRun(exportId);
      const done = await waitForRun(runId);
      expect(done).toMatchObject({ status: 'succeeded', error: null, progress: { phase: 'done' } });
      expect(done.counts).toMatchObject({ plannedRemovals: 4, removed: 0 });
      expect(await sandboxEmails(stack.app, listId)).toEqual(emails('delta', 0, 8));
      expect((await admin().post(`/v1/runs/${runId}/removals`, { decision: 'approve' })).status).toBe(409);
    } finally {
      await stack.restartWorker();
    }
  });
});
