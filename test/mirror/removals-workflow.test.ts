import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { newId } from '../../common/ids';
import { exportRunWorkflowId } from '../../services/contracts';
import {
  decideRemovalsUpdate,
  mirrorRemovals,
  NOT_AWAITING_APPROVAL,
  removalsStateQuery,
  removalsWorkflowId,
  type MirrorRemovalsInput,
} from '../../workflows/mirrorRemovals';
import type { ProfileInput } from '../../store/profiles';
import { MirrorRepository } from '../../store/mirror';
import { createMirrorActivities } from '../../activities/mirror';
import { connectSandboxConnection, createTestApp, type TestApp } from '../helpers/app';
import { createSandboxList, emailOf, eventually, sandboxEmails, sandboxStats, startWorker, uniqueTaskQueue, type TestWorker } from './helpers';

/**
 * The removals child workflow on the real stack (Temporal dev server, sandbox at its real 4
 * requests a second, SQLite store, the real activities and Constant Contact client), over a run
 * and snapshot made with the store: the list holds the segment's contacts and some others; the
 * others leave, nobody else.
 */

jest.setTimeout(180_000);

let app: TestApp;
let worker: TestWorker;
let connectionId: string;

beforeAll(async () => {
  app = await createTestApp({ kind: 'sqlite', env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue('mirror-wf') } });
  connectionId = await connectSandboxConnection(app);
  worker = await startWorker(app);
});

afterAll(async () => {
  await worker?.stop();
  await app?.close();
});

interface Scenario {
  listId: string;
  runId: string;
  workflowId: string;
  /** Emails of the segment (they stay). */
  kept: string[];
  /** Emails on the list that are not in the segment (they leave). */
  leaving: string[];
}

let seq = 0;

/** A segment of `inSegment` profiles; a list holding them and `outside` other contacts; a mirror run with its snapshot. */
async function scenario(inSegment: number, outside: number, maxRemovalPercent = 20, listRead: 'export' | 'pages' = 'export'): Promise<Scenario> {
  const tag = `s${++seq}-${Date.now()}`;
  const base = seq * 10_000;
  const kept = Array.from({ length: inSegment }, (_, i) => emailOf(base + i));
  const leaving = Array.from({ length: outside }, (_, i) => emailOf(base + 5000 + i));
  const profiles: ProfileInput[] = kept.map((email, i) => ({ id: `${tag}-p${i}`, attributes: { Email: i % 3 === 0 ? email.toUpperCase() : email, Tag: tag } }));
  await app.store.profiles.upsertMany(profiles);
  const segment = await app.store.segments.create({ name: `segment ${tag}`, rule: { attribute: 'Tag', op: 'eq', value: tag } as never });
  await app.store.segments.refresh(segment.id);

  const listId = await createSandboxList(app, `list ${tag}`);
  const body = JSON.stringify({ import_data: [...kept, ...leaving].map((email) => ({ email })), list_ids: [listId] });
  const { activityId } = await app.constantContact.importContacts(connectionId, body);
  await eventually(async () => {
    const a = await app.constantContact.getActivity(connectionId, activityId);
    if (a.state !== 'completed') throw new Error(`import ${a.state}`);
  });
  expect(await sandboxEmails(app, listId)).toHaveLength(inSegment + outside);

  const created = await app.store.exports.create(
    {
      name: `export ${tag}`,
      connectionId,
      listId,
      mapping: { email: 'Email' },
      segmentIds: [segment.id],
      syncMode: 'mirror',
      maxRemovalPercent,
      schedule: { mode: 'off' },
    },
    { createdByRole: 'admin', now: new Date().toISOString() },
  );
  if (!('id' in created)) throw new Error(`export not created: ${JSON.stringify(created)}`);
  const runId = newId('run');
  const workflowId = exportRunWorkflowId(created.id, runId);
  const run = await app.store.runs.createRunning({ id: runId, exportId: created.id, trigger: 'on-demand', workflowId, startedAt: new Date().toISOString() });
  if (!run.created) throw new Error('run not created');
  await app.store.snapshots.create(runId, { segmentIds: [segment.id], mapping: { email: 'Email' } });
  await readList({ runId, connectionId, listId }, listRead);
  return { listId, runId, workflowId, kept: kept.sort(), leaving: leaving.sort() };
}

/** The list read the export run makes before its uploads (workflows/list-read.ts), with the same activities. */
async function readList(target: { runId: string; connectionId: string; listId: string }, how: 'export' | 'pages'): Promise<void> {
  const acts = createMirrorActivities({ config: app.config, store: app.store, constantContact: app.constantContact, logger: app.logger, clock: () => new Date(), temporal: app.temporal });
  if (how === 'export') {
    const { exportActivityId } = await acts.startListRead(target);
    await eventually(async () => {
      if (!(await acts.checkListExport({ connectionId: target.connectionId, exportActivityId: exportActivityId! })).terminal) throw new Error('export not done');
    });
    expect((await acts.loadListExport({ ...target, exportActivityId: exportActivityId! })).loaded).toBe(true);
    return;
  }
  let next: string | null = null;
  do next = (await acts.readListPage({ ...target, next })).next;
  while (next);
}

function startRemovals(s: Scenario, extra: Partial<MirrorRemovalsInput> = {}): Promise<WorkflowHandle<typeof mirrorRemovals>> {
  return app.temporal.workflow.start(mirrorRemovals, {
    taskQueue: app.config.temporal.taskQueue,
    workflowId: removalsWorkflowId(s.workflowId),
    args: [{ runId: s.runId, connectionId, listId: s.listId, ...extra }],
  });
}

async function waitForApproval(s: Scenario, handle: WorkflowHandle<typeof mirrorRemovals>): Promise<void> {
  await eventually(async () => {
    const run = await app.store.runs.get(s.runId);
    if (run?.phase !== 'awaiting-approval') throw new Error(`phase ${run?.phase}`);
    const state = await handle.query(removalsStateQuery);
    if (state.stage !== 'awaiting-approval') throw new Error(`stage ${state.stage}`);
  });
}

it('removes from the list exactly the members not in the snapshot, without approval within maxRemovalPercent', async () => {
  const s = await scenario(8, 2);
  const before = await sandboxStats(app);
  const handle = await startRemovals(s);
  const result = await handle.result();

  expect(result).toEqual({ listMembers: 10, plannedRemovals: 2, removed: 2, removalErrors: 0, decision: 'not-needed' });
  expect(await sandboxEmails(app, s.listId)).toEqual(s.kept);
  const run = await app.store.runs.get(s.runId);
  expect(run?.counts.removed).toBe(2);
  expect(run?.counts.plannedRemovals).toBe(2);

  const after = await sandboxStats(app);
  expect(after.removeRequests - before.removeRequests).toBe(1);
  // A contact export file names no contact ids (Constant Contact documents no such field): the
  // two contacts to remove are found with one targeted read each.
  expect((after.byRoute['GET /v3/contacts'] ?? 0) - (before.byRoute['GET /v3/contacts'] ?? 0)).toBe(2);
  expect(after.requests - before.requests).toBeLessThanOrEqual(10);
  expect(after.throttled).toBe(0);
  expect(after.maxRequestsInOneSecond).toBeLessThanOrEqual(4);
  // Removed from the list, never deleted from the account.
  for (const email of s.leaving) expect(app.sandbox.state.contactByEmail(email)).toBeDefined();
});

it('holds 50% removals for approval, survives a worker restart while waiting, and removes them once approved', async () => {
  const s = await scenario(600, 600);
  const before = await sandboxStats(app);
  const handle = await startRemovals(s);
  await waitForApproval(s, handle);

  const waiting = await app.store.runs.get(s.runId);
  expect(waiting?.phase).toBe('awaiting-approval');
  expect(waiting?.counts.plannedRemovals).toBe(600);
  expect(waiting?.counts.removed).toBe(0);
  expect((await handle.query(removalsStateQuery)).plannedRemovals).toBe(600);

  // A worker restarted while the run waits: nothing is lost, nothing is removed.
  await worker.stop();
  worker = await startWorker(app);
  expect(await sandboxEmails(app, s.listId)).toHaveLength(1200);

  const answer = await handle.executeUpdate(decideRemovalsUpdate, { args: [{ decision: 'approve' }] });
  expect(answer).toEqual({ decision: 'approved' });
  const result = await handle.result();
  expect(result).toEqual({ listMembers: 1200, plannedRemovals: 600, removed: 600, removalErrors: 0, decision: 'approved' });
  expect(await sandboxEmails(app, s.listId)).toEqual(s.kept);
  expect((await app.store.runs.get(s.runId))?.counts.removed).toBe(600);

  const after = await sandboxStats(app);
  // 600 contacts: two remove-list-memberships calls of at most 500 contact ids each.
  expect(after.removeRequests - before.removeRequests).toBe(2);
  const removals = [...app.sandbox.state.activities.values()].filter((a) => a.kind === 'remove');
  for (const a of removals) expect(a.itemsTotal).toBeLessThanOrEqual(500);
  expect(after.throttled).toBe(0);
  expect(after.maxRequestsInOneSecond).toBeLessThanOrEqual(4);
});

it('removes nobody when the removals are rejected', async () => {
  const s = await scenario(5, 5);
  const before = await sandboxStats(app);
  const handle = await startRemovals(s);
  await waitForApproval(s, handle);
  expect(await handle.executeUpdate(decideRemovalsUpdate, { args: [{ decision: 'reject' }] })).toEqual({ decision: 'rejected' });
  const result = await handle.result();
  expect(result).toMatchObject({ plannedRemovals: 5, removed: 0, decision: 'rejected' });
  expect(await sandboxEmails(app, s.listId)).toEqual([...s.kept, ...s.leaving].sort());
  expect((await sandboxStats(app)).removeRequests).toBe(before.removeRequests);
  const run = await app.store.runs.get(s.runId);
  expect(run?.counts).toMatchObject({ plannedRemovals: 5, removed: 0 });
});

it('ends without removals when nobody decides in time', async () => {
  const s = await scenario(3, 3);
  const handle = await startRemovals(s, { approvalTimeoutMs: 1500 });
  const result = await handle.result();
  expect(result).toMatchObject({ plannedRemovals: 3, removed: 0, decision: 'timed-out' });
  expect(await sandboxEmails(app, s.listId)).toEqual([...s.kept, ...s.leaving].sort());
});

it('refuses a second decision: the first one stays', async () => {
  const s = await scenario(4, 4);
  const handle = await startRemovals(s);
  await waitForApproval(s, handle);
  expect(await handle.executeUpdate(decideRemovalsUpdate, { args: [{ decision: 'reject' }] })).toEqual({ decision: 'rejected' });
  const err = await handle.executeUpdate(decideRemovalsUpdate, { args: [{ decision: 'approve' }] }).catch((e: unknown) => e);
  // Refused by the validator while the workflow goes on; a workflow that ended already takes no update at all.
  expect(err).toBeInstanceOf(Error);
  if (err instanceof WorkflowUpdateFailedError) {
    expect(err.cause).toBeInstanceOf(ApplicationFailure);
    expect((err.cause as ApplicationFailure).type).toBe(NOT_AWAITING_APPROVAL);
  }
  expect(await handle.result()).toMatchObject({ removed: 0, decision: 'rejected' });
  expect(await sandboxEmails(app, s.listId)).toHaveLength(8);
});

it('removals of a list read by pages use the ids the pages gave: no further read', async () => {
  const s = await scenario(700, 100, 20, 'pages');
  const before = await sandboxStats(app);
  const result = await (await startRemovals(s)).result();
  expect(result).toEqual({ listMembers: 800, plannedRemovals: 100, removed: 100, removalErrors: 0, decision: 'not-needed' });
  expect(await sandboxEmails(app, s.listId)).toEqual(s.kept);
  const after = await sandboxStats(app);
  expect(after.byRoute['GET /v3/contacts'] ?? 0).toBe(before.byRoute['GET /v3/contacts'] ?? 0);
});

it('many removals whose ids the contact export did not give are found by paging the list once', async () => {
  const s = await scenario(700, 100, 20);
  const before = await sandboxStats(app);
  const result = await (await startRemovals(s)).result();
  expect(result).toEqual({ listMembers: 800, plannedRemovals: 100, removed: 100, removalErrors: 0, decision: 'not-needed' });
  expect(await sandboxEmails(app, s.listId)).toEqual(s.kept);
  const after = await sandboxStats(app);
  expect((after.byRoute['GET /v3/contacts'] ?? 0) - (before.byRoute['GET /v3/contacts'] ?? 0)).toBe(2);
});

it('continues as new in the middle of removing and still removes every leaver exactly once', async () => {
  const s = await scenario(100, 1600, 100);
  const before = await sandboxStats(app);
  const handle = await startRemovals(s, { stepsPerExecution: 1 });
  const firstRunId = (await handle.describe()).runId;
  const result = await handle.result();
  expect(result).toEqual({ listMembers: 1700, plannedRemovals: 1600, removed: 1600, removalErrors: 0, decision: 'not-needed' });
  expect((await handle.describe()).runId).not.toBe(firstRunId);
  expect(await sandboxEmails(app, s.listId)).toEqual(s.kept);
  const after = await sandboxStats(app);
  // 1600 leavers: 4 calls of <= 500 contact ids, none sent twice across the executions.
  expect(after.removeRequests - before.removeRequests).toBe(4);
  expect((await app.store.runs.get(s.runId))?.counts.removed).toBe(1600);
  expect(after.maxRequestsInOneSecond).toBeLessThanOrEqual(4);
});

it('a run cancelled while awaiting approval removes nobody and keeps no copy of the list', async () => {
  const s = await scenario(3, 3);
  const handle = await startRemovals(s);
  await waitForApproval(s, handle);
  expect(await new MirrorRepository(app.store.db).countListMembers(s.runId)).toBe(6);
  await handle.cancel();
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  expect(await sandboxEmails(app, s.listId)).toEqual([...s.kept, ...s.leaving].sort());
  await eventually(async () => expect(await new MirrorRepository(app.store.db).countListMembers(s.runId)).toBe(0));
});
