import pino from 'pino';
import type { Logger } from '../../common/logger';
import { purgeExpiredPersonalData } from '../../services/retention';
import { createTestStore, storeKinds, type TestStore } from '../helpers/stores';

/**
 * Personal data of runs is kept for a bounded time: rejects of runs that ended more than
 * PERSONAL_DATA_RETENTION_DAYS ago are deleted by a periodic job that one worker of many runs per
 * turn; deleting a profile deletes its rejects in every run at once.
 */

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-30T12:00:00.000Z');
const logger = pino({ level: 'silent' }) as unknown as Logger;

describe.each(storeKinds)('personal data retention (%s)', (kind) => {
  let t: TestStore;
  beforeEach(async () => {
    t = await createTestStore(kind);
    const at = new Date(NOW).toISOString();
    await t.store.db.run(
      `INSERT INTO exports (id, name, connection_id, list_id, mapping, sync_mode, max_removal_percent, schedule, created_by_role, created_at, updated_at)
       VALUES ('exp_retention00', 'Retention', NULL, '00000000-0000-4000-8000-000000000001', '{"email":"Email"}', 'upsert', 20, '{"mode":"off"}', 'admin', ?, ?)`,
      [at, at],
    );
  });
  afterEach(() => t?.destroy());

  /** A run that ended `daysAgo` days before NOW (null: still running) with rejects of these profiles. */
  async function runWithRejects(id: string, daysAgo: number | null, profileIds: string[]): Promise<void> {
    const finished = daysAgo === null ? null : new Date(NOW - daysAgo * DAY).toISOString();
    await t.store.db.run(
      `INSERT INTO runs (id, export_id, status, trigger, started_at, finished_at, workflow_id, phase, counts)
       VALUES (?, 'exp_retention00', ?, 'on-demand', ?, ?, ?, ?, '{}')`,
      [id, finished ? 'succeeded' : 'running', new Date(NOW - 40 * DAY).toISOString(), finished, `wf-${id}`, finished ? 'done' : 'uploading'],
    );
    let seq = 0;
    for (const profileId of profileIds) {
      await t.store.db.run(`INSERT INTO run_rejects (run_id, snapshot_seq, profile_id, email, reason) VALUES (?, ?, ?, 'not an email', 'invalid_email')`, [id, seq++, profileId]);
    }
  }

  const rejectsOf = async (runId: string) => (await t.store.db.all<{ profile_id: string }>('SELECT profile_id FROM run_rejects WHERE run_id = ? ORDER BY snapshot_seq', [runId])).map((r) => r.profile_id);

  it('deletes the rejects of runs that ended before the retention period, and keeps the others', async () => {
    await runWithRejects('run_old0000001', 31, ['a', 'b']);
    await runWithRejects('run_old0000002', 90, ['c']);
    await runWithRejects('run_recent00001', 29, ['d']);
    await runWithRejects('run_running0001', null, ['e']);
    const deleted = await purgeExpiredPersonalData({ store: t.store, logger, retentionDays: 30, now: () => NOW }, 3_600_000);
    expect(deleted).toBe(3);
    expect(await rejectsOf('run_old0000001')).toEqual([]);
    expect(await rejectsOf('run_old0000002')).toEqual([]);
    expect(await rejectsOf('run_recent00001')).toEqual(['d']);
    expect(await rejectsOf('run_running0001')).toEqual(['e']);
    // The runs themselves (ids and counts, no personal data) stay readable.
    expect(await t.store.runs.get('run_old0000001')).toMatchObject({ status: 'succeeded' });
  });

  it('deletes the suppressions of runs that ended before the retention period too', async () => {
    await runWithRejects('run_old0000001', 31, []);
    await runWithRejects('run_recent00001', 29, []);
    for (const runId of ['run_old0000001', 'run_recent00001']) {
      await t.store.db.run(`INSERT INTO run_suppressions (run_id, snapshot_seq, profile_id, email, reason) VALUES (?, 1, 'a', 'a@example.com', 'left_list')`, [runId]);
    }
    expect(await purgeExpiredPersonalData({ store: t.store, logger, retentionDays: 30, now: () => NOW }, 3_600_000)).toBe(1);
    const left = await t.store.db.all<{ run_id: string }>('SELECT run_id FROM run_suppressions ORDER BY run_id');
    expect(left.map((r) => r.run_id)).toEqual(['run_recent00001']);
  });

  it('runs one turn per interval however many workers ask at once', async () => {
    await runWithRejects('run_old0000001', 40, ['a']);
    const deps = { store: t.store, logger, retentionDays: 30, now: () => NOW };
    const turns = await Promise.all([1, 2, 3, 4].map(() => purgeExpiredPersonalData(deps, 3_600_000)));
    expect(turns.filter((d) => d !== undefined)).toEqual([1]);
    expect(await purgeExpiredPersonalData({ ...deps, now: () => NOW + 1_800_000 }, 3_600_000)).toBeUndefined();
    expect(await purgeExpiredPersonalData({ ...deps, now: () => NOW + 3_600_000 }, 3_600_000)).toBe(0);
  });

  it('deleting a profile deletes its rejects in every run, and nobody else’s', async () => {
    await t.store.db.run(`INSERT INTO profiles (id, attributes, updated_at) VALUES ('a', '{"Email":"x"}', ?)`, [new Date(NOW).toISOString()]);
    await runWithRejects('run_recent00001', 1, ['a', 'b']);
    await runWithRejects('run_running0001', null, ['a']);
    expect(await t.store.profiles.delete('a')).toBe(true);
    expect(await rejectsOf('run_recent00001')).toEqual(['b']);
    expect(await rejectsOf('run_running0001')).toEqual([]);
  });
});
