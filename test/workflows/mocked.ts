import { randomBytes } from 'node:crypto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { FinalizeInput, RunTarget, UploadChunkInput } from '../../activities/contracts';
import type { PlanRemovalsResult } from '../../activities/mirror';
import { emptyCounts } from '../../store/types';
import { testTemporal } from '../helpers/temporal';
import { installQuietRuntime, workflowBundle } from '../helpers/worker';

/**
 * Workflow tests with mocked activities, on the suite's dev server (the time-skipping test server
 * needs a download this machine cannot make): the real workflow code, activities that answer what
 * the test says and record every call, a task queue of the test's own. Durations are passed in
 * short, so each test takes seconds.
 */

/** The suite's dev server as a test environment (its client and a connection for workers), for the tests of this file. */
export function useExistingServer(): () => TestWorkflowEnvironment {
  let env: TestWorkflowEnvironment | undefined;
  beforeAll(async () => {
    const { address, namespace } = testTemporal();
    installQuietRuntime();
    env = await TestWorkflowEnvironment.createFromExistingServer({ address, namespace });
  });
  afterAll(async () => {
    await env?.teardown();
  });
  return () => env!;
}

export interface Call {
  name: string;
  input: unknown;
  /** When it was called (ms since the epoch). */
  at: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Mock = (input: any) => Promise<unknown>;
export type Mocks = Record<string, Mock>;

/** Mocked activities: every call is recorded in `calls`, then answered by the mock of that name. */
export function recorded(mocks: Mocks): { activities: Mocks; calls: Call[]; of(name: string): Call[] } {
  const calls: Call[] = [];
  const activities: Mocks = {};
  for (const [name, mock] of Object.entries(mocks)) {
    activities[name] = (input) => {
      calls.push({ name, input, at: Date.now() });
      return mock(input);
    };
  }
  return { activities, calls, of: (name) => calls.filter((c) => c.name === name) };
}

/** Runs `body` while a worker with these activities polls a task queue of its own (its name is passed in). */
export async function withWorker<T>(
  env: TestWorkflowEnvironment,
  activities: Mocks,
  body: (taskQueue: string) => Promise<T>,
  options: { workflowInterceptorModules?: string[] } = {},
): Promise<T> {
  const taskQueue = `test-mocked-${randomBytes(4).toString('hex')}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: testTemporal().namespace,
    taskQueue,
    workflowBundle: await workflowBundle(options.workflowInterceptorModules),
    activities,
    stickyQueueScheduleToStartTimeout: '2s',
  });
  return worker.runUntil(body(taskQueue));
}

export const TARGET: RunTarget = {
  exportId: 'exp_test',
  exportName: 'Spring newsletter',
  connectionId: 'con_test',
  listId: 'list_test',
  mapping: { email: 'EmailAddress' },
  syncMode: 'upsert',
  maxRemovalPercent: 20,
  segmentIds: ['seg_test'],
  customFields: 0,
  dryRun: false,
  fullResync: false,
};

/** The export run's activities for a run of one chunk of 10 contacts that imports at once (the list read by one page). */
export function exportRunMocks(target: Partial<RunTarget> = {}): Mocks {
  return {
    validateRun: async () => ({ ...TARGET, ...target }),
    validateCustomFields: async () => undefined,
    startListRead: async () => ({ exportActivityId: null }),
    checkListExport: async () => ({ state: 'completed', terminal: true, completed: true, percentDone: 100 }),
    loadListExport: async () => ({ loaded: false, listMembers: 0 }),
    readListPage: async () => ({ members: 10, next: null }),
    snapshotRun: async () => ({ segmentProfiles: 10, chunksEstimate: 1 }),
    uploadChunk: async (i: UploadChunkInput) => ({
      chunkNo: i.chunkNo,
      contacts: 10,
      rejected: 0,
      duplicates: 0,
      posted: true,
      nextCursor: { afterSeq: 9, lastAcceptedSeq: 9 },
      done: true,
    }),
    pollImports: async () => ({ posted: 1, finished: 1, failed: 0 }),
    recordPhase: async () => undefined,
    finalizeRun: async (i: FinalizeInput) => ({ runId: i.runId, status: i.status, counts: emptyCounts(), error: i.error }),
  };
}

/** Mirror mode's activities: of the 10 members the run read, `plan` says who leaves. */
export function removalsMocks(plan: Partial<PlanRemovalsResult> = {}): Mocks {
  return {
    planRemovals: async () => ({
      listMembers: 10,
      plannedRemovals: 5,
      batches: 1,
      batchSize: 500,
      maxRemovalPercent: 20,
      needsApproval: true,
      approvalTimeoutMs: 60_000,
      ...plan,
    }),
    setRemovalsPhase: async () => undefined,
    recordRemovalDecision: async (i: { decision: string }) => ({ decision: i.decision }),
    resolveRemovalIds: async () => ({ batches: 1, withoutId: 0 }),
    removeBatch: async () => ({ contacts: 5, activityId: 'removal-1' }),
    checkRemovalBatch: async () => ({ state: 'completed', done: true, removed: 5 }),
    finishRemovals: async () => ({ listMembers: 10, plannedRemovals: 5, removed: 0, removalErrors: 0, decision: null }),
  };
}

/** Polls until `check` holds (or throws its last failure after `timeoutMs`). */
export async function until<T>(check: () => T | Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error('the condition never held');
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
