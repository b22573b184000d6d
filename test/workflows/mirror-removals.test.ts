import { decideRemovalsUpdate, mirrorRemovals, removalsStateQuery } from '../../workflows/mirrorRemovals';
import { recorded, removalsMocks, until, useExistingServer, withWorker } from './mocked';

/**
 * Mirror mode's removals workflow with mocked activities: the approval wait and its one path, the
 * `decideRemovals` update, each in seconds on the suite's dev server.
 */

const server = useExistingServer();

let seq = 0;
const start = (taskQueue: string) =>
  server().client.workflow.start(mirrorRemovals, {
    taskQueue,
    workflowId: `mocked-removals-${Date.now()}-${++seq}`,
    args: [{ runId: `run_mocked${seq}`, connectionId: 'con_test', listId: 'list_test' }],
  });

const decisions = (calls: { input: unknown }[]) => calls.map((c) => (c.input as { decision: string }).decision);

test('nobody decides before the approval times out: the decision is timed-out and nobody is removed', async () => {
  const mocks = recorded(removalsMocks({ approvalTimeoutMs: 1500 }));
  await withWorker(server(), mocks.activities, async (taskQueue) => {
    const started = Date.now();
    const result = await (await start(taskQueue)).result();
    expect(result).toMatchObject({ decision: 'timed-out', removed: 0 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    expect(decisions(mocks.of('recordRemovalDecision'))).toEqual(['timed-out']);
    expect(mocks.of('removeBatch')).toEqual([]);
    expect(mocks.of('finishRemovals')).toHaveLength(1);
  });
});

test('the update is the one path for a decision: a removalDecision signal changes nothing', async () => {
  const mocks = recorded(removalsMocks({ approvalTimeoutMs: 60_000 }));
  await withWorker(server(), mocks.activities, async (taskQueue) => {
    const handle = await start(taskQueue);
    await until(async () => (await handle.query(removalsStateQuery)).stage === 'awaiting-approval');
    await handle.signal('removalDecision', { decision: 'approve' });
    // Still waiting once the signal was handled (a query answers after the workflow took it).
    expect((await handle.query(removalsStateQuery)).stage).toBe('awaiting-approval');
    expect(mocks.of('removeBatch')).toEqual([]);

    expect(await handle.executeUpdate(decideRemovalsUpdate, { args: [{ decision: 'approve' }] })).toEqual({ decision: 'approved' });
    expect(await handle.result()).toMatchObject({ decision: 'approved' });
    expect(decisions(mocks.of('recordRemovalDecision'))).toEqual(['approved']);
    expect(mocks.of('removeBatch')).toHaveLength(1);
  });
});
