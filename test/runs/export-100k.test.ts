import type { StoreKind } from '../helpers/stores';
import { createTestApp } from '../helpers/app';
import { startInProcessWorker, uniqueTaskQueue } from '../helpers/worker';
import { expectCountsReconcile, expectedEmails, historyText, listMembers, sandboxStats, seedProfiles, setupExport, startRunViaApi, waitForRun } from './fixtures';

/**
 * A large run: 100,000 profiles land exactly in the list (the sandbox's members compared
 * to the segment, emails normalized), counts reconciling; on SQLite, and on PostgreSQL.
 */

const cases: { kind: StoreKind; profiles: number; env: Record<string, string> }[] = [
  { kind: 'sqlite', profiles: 100_000, env: {} },
  { kind: 'postgres', profiles: 100_000, env: {} },
];

describe.each(cases)('export of $profiles profiles ($kind)', ({ kind, profiles, env }) => {
  test('lands exactly the expected contacts and the counts reconcile', async () => {
    const app = await createTestApp({
      kind,
      sandbox: { importMsPerContact: 0, importMinMs: 20 },
      env: { TEMPORAL_TASK_QUEUE: uniqueTaskQueue(`100k-${kind}`), LOG_LEVEL: 'info', ...env },
    });
    const worker = await startInProcessWorker({ config: app.config, store: app.store, logger: app.logger });
    try {
      await seedProfiles(app.store, profiles);
      const { exportId } = await setupExport(app);
      const run = await startRunViaApi(app, exportId);
      const ended = await waitForRun(app, run.id, { timeoutMs: 240_000 });
      expect(ended).toMatchObject({ status: 'succeeded', error: null });

      const expected = expectedEmails(profiles);
      expect(ended.counts).toMatchObject({
        segmentProfiles: profiles,
        sent: expected.emails.size,
        imported: expected.emails.size,
        rejected: expected.rejected,
        duplicates: expected.duplicates,
      });
      expectCountsReconcile(ended.counts);

      const members = await listMembers(app);
      const emails = members.map((m) => String(m.email).trim().toLowerCase());
      expect(emails.length).toBe(expected.emails.size);
      const landed = new Set(emails);
      expect(landed.size).toBe(emails.length);
      expect([...expected.emails].filter((e) => !landed.has(e))).toEqual([]);
      expect([...landed].filter((e) => !expected.emails.has(e))).toEqual([]);

      const stats = await sandboxStats(app);
      expect(stats.maxRequestsInOneSecond).toBeLessThanOrEqual(4);
      // 40,000 contacts and under 4 MB per import: a handful of imports, each posted once.
      expect(stats.importRequests).toBe(ended.progress.chunksTotal);
      expect(stats.importRequests).toBeLessThanOrEqual(Math.ceil(expected.emails.size / 30_000));
      const history = await historyText(app.temporal, run.workflowId);
      expect(history.events).toBeLessThan(200);
    } finally {
      await worker.stop();
      await app.close();
    }
  }, 300_000);
});
