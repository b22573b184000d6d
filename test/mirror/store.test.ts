import { createTestStore, storeKinds, type TestStore } from '../helpers/stores';
import { MirrorRepository, emailKey } from '../../store/mirror';

const NOW = '2025-01-01T00:00:00.000Z';

async function insertSnapshot(t: TestStore, runId: string, emails: (string | null)[]): Promise<void> {
  let seq = 0;
  for (const email of emails) {
    await t.store.db.run('INSERT INTO run_snapshot (run_id, seq, profile_id, email_key, data) VALUES (?, ?, ?, ?, ?)', [
      runId,
      seq,
      `p${seq}`,
      emailKey(email),
      '{}',
    ]);
    seq++;
  }
}

describe.each(storeKinds)('mirror repository on %s', (kind) => {
  let t: TestStore;
  let mirror: MirrorRepository;
  beforeEach(async () => {
    t = await createTestStore(kind);
    mirror = new MirrorRepository(t.store.db);
  });
  afterEach(async () => {
    await t.destroy();
  });

  it('plans the removal of exactly the members whose normalized email is not in the run snapshot', async () => {
    await insertSnapshot(t, 'run_a', ['Keep1@Example.com ', 'keep2@example.com', null]);
    await insertSnapshot(t, 'run_other', ['gone1@example.com']);
    await mirror.beginListRead('run_a', 'list-1', NOW);
    await mirror.addListMembers('run_a', [
      { contactId: 'c3', emailKey: emailKey('KEEP1@example.com') },
      { contactId: 'c1', emailKey: emailKey('gone1@example.com') },
      { contactId: 'c2', emailKey: emailKey('keep2@example.com') },
      { contactId: 'c4', emailKey: null },
      { contactId: 'c5', emailKey: emailKey('gone2@example.com') },
      { contactId: 'c5', emailKey: emailKey('gone2@example.com') },
    ]);
    const plan = await mirror.planRemovals('run_a', 2, NOW);
    expect(plan).toEqual({ listMembers: 5, plannedRemovals: 3, batches: 2 });
    expect(await mirror.removalBatchContactIds('run_a', 0, 2)).toEqual(['c1', 'c4']);
    expect(await mirror.removalBatchContactIds('run_a', 1, 2)).toEqual(['c5']);
    expect(await mirror.removalBatchContactIds('run_a', 2, 2)).toEqual([]);
    expect((await mirror.get('run_a'))?.plannedRemovals).toBe(3);
  });

  it('keeps the plan once a removal request was made, and counts each batch once', async () => {
    await insertSnapshot(t, 'run_b', ['a@example.com']);
    await mirror.beginListRead('run_b', 'list-1', NOW);
    await mirror.addListMembers('run_b', [
      { contactId: 'c1', emailKey: 'a@example.com' },
      { contactId: 'c2', emailKey: 'b@example.com' },
    ]);
    expect((await mirror.planRemovals('run_b', 500, NOW)).plannedRemovals).toBe(1);
    await mirror.recordBatchPosted('run_b', 0, 1, 'act-1');
    await mirror.recordBatchPosted('run_b', 0, 1, 'act-2');
    expect((await mirror.getBatch('run_b', 0))?.activityId).toBe('act-1');
    await mirror.addListMembers('run_b', [{ contactId: 'c3', emailKey: 'c@example.com' }]);
    expect(await mirror.planRemovals('run_b', 500, NOW)).toEqual({ listMembers: 2, plannedRemovals: 1, batches: 1 });
    await mirror.recordBatchDone('run_b', 0, { state: 'completed', removed: 1, errors: 0 });
    expect(await mirror.totals('run_b')).toEqual({ batches: 1, posted: 1, done: 1, removed: 1, errors: 0 });
  });

  it('keeps the first decision', async () => {
    await mirror.beginListRead('run_c', 'list-1', NOW);
    expect(await mirror.recordDecision('run_c', 'rejected', NOW)).toBe('rejected');
    expect(await mirror.recordDecision('run_c', 'approved', NOW)).toBe('rejected');
  });

  it('reads a list again from scratch when the read is retried', async () => {
    await mirror.beginListRead('run_d', 'list-1', NOW);
    await mirror.addListMembers('run_d', [{ contactId: 'c1', emailKey: 'a@example.com' }]);
    await mirror.beginListRead('run_d', 'list-1', NOW);
    expect(await mirror.countListMembers('run_d')).toBe(0);
  });
});
