import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { FinalizeInput, PollImportsInput } from '../../activities/contracts';
import { DAILY_QUOTA_EXHAUSTED } from '../../services/contracts';
import { exportRun } from '../../workflows/exportRun';
import { removalsWorkflowId } from '../../workflows/mirrorRemovals';
import { exportRunMocks, recorded, removalsMocks, until, useExistingServer, withWorker, type Mocks } from './mocked';

/**
 * The export run's workflow with mocked activities: how it waits, resumes, fails and is cancelled,
 * each in seconds, on the suite's dev server. Every ending records the run's end (finalizeRun)
 * with a status and a code.
 */

const server = useExistingServer();

let seq = 0;
const start = (taskQueue: string) => {
  const runId = `run_mocked${Date.now()}${++seq}`;
  return server().client.workflow.start(exportRun, { taskQueue, workflowId: `export-run-exp_mocked-${runId}`, args: [{ runId, exportId: 'exp_mocked', trigger: 'on-demand' }] });
};

const finalized = (calls: { input: unknown }[]) => calls.map((c) => c.input as FinalizeInput).map(({ status, error }) => ({ status, code: error?.code ?? null }));

/** What the run's workflow failed with: the type of its ApplicationFailure. */
async function failureType(result: Promise<unknown>): Promise<string | undefined> {
  const err = await result.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return ((err as WorkflowFailedError).cause as ApplicationFailure | undefined)?.type ?? undefined;
}

test('the daily quota spent: the run waits on a durable timer in waiting-for-quota, then resumes and succeeds', async () => {
  let quotaSpent = true;
  const mocks = recorded({
    ...exportRunMocks(),
    validateRun: async (input) => {
      if (quotaSpent) {
        quotaSpent = false;
        throw ApplicationFailure.create({ type: DAILY_QUOTA_EXHAUSTED, message: 'spent', nonRetryable: true, details: [{ retryAfterMs: 300 }] });
      }
      return exportRunMocks().validateRun(input);
    },
  });
  await withWorker(server(), mocks.activities, async (taskQueue) => {
    const handle = await start(taskQueue);
    expect(await handle.result()).toMatchObject({ status: 'succeeded', error: null });
    const [first, second] = mocks.of('validateRun');
    // The reset time (300 ms) and the 5 s margin after it, on a timer: not an activity retried meanwhile.
    expect(second.at - first.at).toBeGreaterThanOrEqual(5300);
    expect(mocks.of('validateRun')).toHaveLength(2);
    const phases = mocks.of('recordPhase').map((c) => (c.input as { phase: string }).phase);
    expect(phases).toEqual(['waiting-for-quota', 'validating']);
    const history = await handle.fetchHistory();
    expect(history.events?.filter((e) => e.timerStartedEventAttributes)).toHaveLength(1);
    expect(finalized(mocks.of('finalizeRun'))).toEqual([{ status: 'succeeded', code: null }]);
  });
});

test('cancelled while waiting for an import: the run ends cancelled and uploads nothing more', async () => {
  const mocks = recorded({
    ...exportRunMocks(),
    pollImports: async () => ({ posted: 1, finished: 0, failed: 0 }),
  });
  await withWorker(server(), mocks.activities, async (taskQueue) => {
    const handle = await start(taskQueue);
    await until(() => mocks.of('pollImports').filter((c) => (c.input as PollImportsInput).uploadsDone).length >= 2);
    const polls = mocks.of('pollImports').length;
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(finalized(mocks.of('finalizeRun'))).toEqual([{ status: 'cancelled', code: 'cancelled' }]);
    expect(mocks.of('uploadChunk')).toHaveLength(1);
    expect(mocks.of('pollImports').length).toBeLessThanOrEqual(polls + 1);
  });
});

test("a child workflow that fails: the run ends failed with the child's code", async () => {
  const mocks = recorded({
    ...exportRunMocks({ syncMode: 'mirror' }),
    ...removalsMocks(),
    planRemovals: async () => {
      throw ApplicationFailure.create({ type: 'forbidden', message: 'the removals cannot be planned', nonRetryable: true });
    },
  });
  await withWorker(server(), mocks.activities, async (taskQueue) => {
    const handle = await start(taskQueue);
    expect(await failureType(handle.result())).toBe('forbidden');
    expect(finalized(mocks.of('finalizeRun'))).toEqual([{ status: 'failed', code: 'forbidden' }]);
    expect(mocks.of('finishRemovals')).toHaveLength(1); // the child let go of its copy of the list
  });
});

/** A mirror run whose removals wait for approval; `act` does something to the waiting child. */
async function childWaiting(mocks: ReturnType<typeof recorded>, act: (childId: string) => Promise<void>, options: { workflowInterceptorModules?: string[] } = {}) {
  return withWorker(
    server(),
    mocks.activities,
    async (taskQueue) => {
      const handle = await start(taskQueue);
      await until(() => mocks.of('setRemovalsPhase').some((c) => (c.input as { phase: string }).phase === 'awaiting-approval'));
      await act(removalsWorkflowId(handle.workflowId));
      return { type: await failureType(handle.result()), finalized: finalized(mocks.of('finalizeRun')) };
    },
    options,
  );
}

const mirrorMocks = (): Mocks => ({ ...exportRunMocks({ syncMode: 'mirror' }), ...removalsMocks() });

test('a child workflow that times out: the run ends failed removals_timed_out', async () => {
  const started = Date.now();
  const ended = await childWaiting(recorded(mirrorMocks()), async () => undefined, { workflowInterceptorModules: [require.resolve('./short-child-timeout')] });
  expect(ended).toEqual({ type: 'removals_timed_out', finalized: [{ status: 'failed', code: 'removals_timed_out' }] });
  expect(Date.now() - started).toBeLessThan(30_000);
});

test('a child workflow terminated from the UI: the run ends failed removals_terminated', async () => {
  const ended = await childWaiting(recorded(mirrorMocks()), async (childId) => {
    await server().client.workflow.getHandle(childId).terminate('an operator ended it');
  });
  expect(ended).toEqual({ type: 'removals_terminated', finalized: [{ status: 'failed', code: 'removals_terminated' }] });
});
