import type { ScheduleHandle } from '@temporalio/client';
import { newId } from '../../common/ids';
import { exportRunStartOptions } from '../../services/run-start';
import { exportScheduleId } from '../../services/schedule-options';
import type { Store } from '../../store';
import type { RunJson } from '../../api/run-view';
import type { TestApp } from '../helpers/app';
import type { startInProcessWorker } from '../helpers/worker';
import { createSandboxList } from '../mirror/helpers';
import { dayEndingSoon, setupExport, startRunViaApi, waitForRun, type ExportSetup } from '../runs/fixtures';
import { FIRST_NAMES, LAST_NAMES, type Scenario } from './histories';

/**
 * The runs the recorder drives, one app (sandbox, SQLite store, API) and in-process worker each, as
 * the tests of test/runs, test/mirror and test/schedules drive them. Each ends with its workflows
 * closed; the recorder then reads every history of the scenario's task queue.
 */

export interface ScenarioSpec {
  name: Scenario;
  env?: Record<string, string>;
  sandbox?: Record<string, unknown>;
  worker?: Pick<Parameters<typeof startInProcessWorker>[0], 'wrapRateLimits'>;
  drive(app: TestApp): Promise<void>;
}

/** Invented people (names from histories.ts, so the privacy check knows what to look for). */
export async function seedPeople(store: Store, n: number, member = true, from = 0): Promise<void> {
  const items = [];
  for (let i = from; i < from + n; i++) {
    const first = FIRST_NAMES[i % FIRST_NAMES.length];
    const last = LAST_NAMES[i % LAST_NAMES.length];
    const attributes = { EmailAddress: `${first}.${last}.${i}@example.com`.toLowerCase(), FirstName: first, LastName: last, Member: member };
    items.push({ id: `person-${i}`, attributes });
  }
  await store.profiles.upsertMany(items);
}

/** Fails unless the run ended (or got to) what the scenario records. */
function expectRun(run: RunJson, expected: Partial<Pick<RunJson, 'status'>> & { code?: string; phase?: string }): RunJson {
  const wrong =
    (expected.status && run.status !== expected.status) ||
    (expected.code && run.error?.code !== expected.code) ||
    (expected.phase && run.progress.phase !== expected.phase);
  if (wrong) throw new Error(`run ${run.id} is not as the scenario expects (${JSON.stringify(expected)}): ${JSON.stringify(run)}`);
  return run;
}

const FAST_SANDBOX = { importMsPerContact: 0, importMinMs: 20 };

/** The response, unless its status is not the one expected. */
function expectStatus<T extends { status: number; text: string }>(res: T, status: number, what: string): T {
  if (res.status !== status) throw new Error(`${what} answered ${res.status}: ${res.text}`);
  return res;
}

/** `people` invented profiles, a segment of them and an export of it (with `changes` PATCHed onto it). */
async function exportOf(app: TestApp, people: number, changes?: Record<string, unknown>, options: Parameters<typeof setupExport>[1] = {}): Promise<ExportSetup> {
  await seedPeople(app.store, people);
  const setup = await setupExport(app, options);
  if (changes) expectStatus(await app.as('admin').patch(`/v1/exports/${setup.exportId}`, changes), 200, 'PATCH export');
  return setup;
}

/** Triggers an export's schedule now; answers the workflow id of the start it made. */
async function triggerSchedule(handle: ScheduleHandle): Promise<string> {
  const before = (await handle.describe()).info.numActionsTaken;
  await handle.trigger();
  for (let i = 0; i < 100; i++) {
    const d = await handle.describe();
    if (d.info.numActionsTaken > before && d.info.recentActions.length > 0) return d.info.recentActions[d.info.recentActions.length - 1].action.workflow.workflowId;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`schedule ${handle.scheduleId} took no action`);
}

export const scenarios: ScenarioSpec[] = [
  {
    // Four chunks of 50, two per execution: the run continues as new and succeeds.
    name: 'upsert-continue-as-new',
    env: { CC_MAX_CONTACTS_PER_IMPORT: '50' },
    sandbox: FAST_SANDBOX,
    async drive(app) {
      const { exportId } = await exportOf(app, 200);
      const exp = (await app.store.exports.get(exportId))!;
      const runId = newId('run');
      const options = exportRunStartOptions(app.config, exp, { id: runId, trigger: 'on-demand' });
      await app.store.runs.createRunning({ id: runId, exportId, trigger: 'on-demand', workflowId: options.workflowId, startedAt: new Date().toISOString() });
      await app.temporal.workflow.start('exportRun', { ...options, args: [{ runId, exportId, trigger: 'on-demand', chunksPerExecution: 2 }] });
      expectRun(await waitForRun(app, runId, { timeoutMs: 60_000 }), { status: 'succeeded' });
    },
  },
  {
    // A first mirror run (nobody to remove), then half the list leaves the segment: over the
    // limit, the second run waits for approval, is approved and removes them. The sandbox takes
    // its time over exports and imports, so the list read checks its export more than once.
    name: 'mirror-approved',
    sandbox: { importMinMs: 1200 },
    async drive(app) {
      const listId = await createSandboxList(app, 'Members');
      const { exportId, segmentId } = await exportOf(app, 20, { syncMode: 'mirror' }, { listId, rule: { all: [{ attribute: 'Member', op: 'eq', value: true }] } });
      expectRun(await waitForRun(app, (await startRunViaApi(app, exportId)).id), { status: 'succeeded' });

      await seedPeople(app.store, 10, false);
      expectStatus(await app.as('admin').post(`/v1/segments/${segmentId}/refresh`), 200, 'segment refresh');
      const run = await startRunViaApi(app, exportId);
      expectRun(await waitForRun(app, run.id, { until: (r) => r.progress.phase === 'awaiting-approval' || r.status !== 'running' }), { phase: 'awaiting-approval' });
      expectStatus(await app.as('admin').post(`/v1/runs/${run.id}/removals`, { decision: 'approve' }), 200, 'approve');
      const done = expectRun(await waitForRun(app, run.id), { status: 'succeeded' });
      if (done.counts.removed !== 10) throw new Error(`expected 10 removed: ${JSON.stringify(done.counts)}`);
    },
  },
  {
    // The day's budget is spent and the worker's day ends 10 s after its first request: the run
    // waits on a timer in phase waiting-for-quota, then resumes and succeeds.
    name: 'quota-wait',
    env: { CC_RATE_PER_DAY: '1000' },
    sandbox: FAST_SANDBOX,
    worker: { wrapRateLimits: (rateLimits) => dayEndingSoon(rateLimits, 10_000) },
    async drive(app) {
      const { exportId } = await exportOf(app, 30);
      await app.store.db.run('UPDATE rate_limits SET window_count = 1000 WHERE key = ?', [app.config.constantContact.clientId]);
      const run = await startRunViaApi(app, exportId);
      expectRun(await waitForRun(app, run.id, { until: (r) => r.progress.phase === 'waiting-for-quota' || r.status !== 'running' }), { phase: 'waiting-for-quota' });
      expectRun(await waitForRun(app, run.id, { timeoutMs: 60_000 }), { status: 'succeeded' });
    },
  },
  {
    // Cancelled while it uploads chunks and polls imports.
    name: 'cancelled',
    env: { CC_MAX_CONTACTS_PER_IMPORT: '50' },
    sandbox: { importMinMs: 200 },
    async drive(app) {
      const { exportId } = await exportOf(app, 1000);
      const run = await startRunViaApi(app, exportId);
      await waitForRun(app, run.id, { until: (r) => r.counts.sent >= 100 || r.status !== 'running' });
      expectStatus(await app.as('admin').post(`/v1/runs/${run.id}/cancel`), 202, 'cancel');
      expectRun(await waitForRun(app, run.id, { timeoutMs: 30_000 }), { status: 'cancelled', code: 'cancelled' });
    },
  },
  {
    name: 'failed-reauthorization',
    sandbox: FAST_SANDBOX,
    async drive(app) {
      const { exportId } = await exportOf(app, 20);
      expectStatus(await app.sandboxControl('POST', '/tokens/revoke'), 200, 'token revocation');
      const run = await startRunViaApi(app, exportId);
      expectRun(await waitForRun(app, run.id, { timeoutMs: 20_000 }), { status: 'failed', code: 'needs_reauthorization' });
    },
  },
  {
    // The export's Temporal Schedule (yearly, so it never fires by itself) triggered now.
    name: 'scheduled',
    sandbox: FAST_SANDBOX,
    async drive(app) {
      const { exportId } = await exportOf(app, 20, { schedule: { mode: 'custom', cron: '0 0 1 1 *', timezone: 'UTC' } });
      const workflowId = await triggerSchedule(app.temporal.schedule.getHandle(exportScheduleId(exportId)));
      const outcome = (await app.temporal.workflow.getHandle(workflowId).result()) as { outcome: string; runId: string };
      if (outcome.outcome !== 'started') throw new Error(`scheduled start: ${JSON.stringify(outcome)}`);
      expectRun(await waitForRun(app, outcome.runId), { status: 'succeeded' });
    },
  },
  {
    // POST /v1/refresh: the segments are refreshed, then the with-refresh export runs.
    name: 'refresh',
    sandbox: FAST_SANDBOX,
    async drive(app) {
      await exportOf(app, 20, { schedule: { mode: 'with-refresh' } });
      const res = expectStatus(await app.as('admin').post('/v1/refresh'), 202, 'POST /v1/refresh');
      const result = (await app.temporal.workflow.getHandle(res.body.workflowId).result()) as { runs: { runId: string }[] };
      if (result.runs.length !== 1) throw new Error(`refresh started ${result.runs.length} runs`);
      expectRun(await waitForRun(app, result.runs[0].runId), { status: 'succeeded' });
    },
  },
  {
    name: 'dry-run',
    sandbox: FAST_SANDBOX,
    async drive(app) {
      const { exportId } = await exportOf(app, 20);
      const res = expectStatus(await app.as('admin').post(`/v1/exports/${exportId}/runs`, { dryRun: true }), 202, 'dry run');
      const done = expectRun(await waitForRun(app, res.body.run.id), { status: 'succeeded' });
      if (!done.dryRun || done.counts.sent !== 0) throw new Error(`not a dry run: ${JSON.stringify(done)}`);
    },
  },
];
