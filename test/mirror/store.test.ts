import { createTestStore, storeKinds, type TestStore } from '../helpers/stores';
import { MirrorRepository } from '../../store/mirror';
import type { ProfileInput } from '../../store/profiles';

const NOW = '2025-01-01T00:00:00.000Z';

/** A real run snapshot (store/snapshots.ts) of profiles with these emails (null: no email attribute). */
async function snapshotOf(t: TestStore, runId: string, emails: (string | null)[]): Promise<void> {
  const tag = runId;
  await t.store.profiles.upsertMany(
    emails.map((email, i) => ({ id: `${runId}-p${i}`, attributes: email === null ? { Tag: tag } : { Email: email, Tag: tag } }) as ProfileInput),
  );
  const segment = await t.store.segments.create({ name: `seg ${runId}`, rule: { attribute: 'Tag', op: 'eq', value: tag } as never });
  await t.store.segments.refresh(segment.id);
  await t.store.snapshots.create(runId, { segmentIds: [segment.id], mapping: { email: 'Email' } });
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

  it('plans the removal of exactly the members whose normalized email is not in the run snapshot (members without an email cannot be matched and stay)', async () => {
    await snapshotOf(t, 'run_a', [' Keep1@Example.com\t', 'keep2@example.com', 'JĀNIS@example.com', null]);
    await snapshotOf(t, 'run_other', ['gone1@example.com']);
    await mirror.beginListRead('run_a', 'list-1', NOW);
    await mirror.addListMembers('run_a', [
      { contactId: 'c3', email: 'KEEP1@example.com' },
      { contactId: 'c1', email: 'gone1@example.com' },
      { contactId: 'c2', email: 'keep2@example.com ' },
      { contactId: 'c6', email: 'jānis@EXAMPLE.com' },
      { contactId: 'c4', email: null },
      { contactId: 'c7', email: '  ' },
      { contactId: 'c5', email: 'gone2@example.com' },
      { contactId: 'c5', email: 'gone2@example.com' },
    ]);
    const plan = await mirror.planRemovals('run_a', 1, NOW);
    expect(plan).toEqual({ listMembers: 5, plannedRemovals: 2, batches: 2 });
    expect(await mirror.removalBatch('run_a', 0, 1)).toEqual([{ contactId: 'c1', emailKey: 'gone1@example.com' }]);
    expect(await mirror.removalBatch('run_a', 1, 1)).toEqual([{ contactId: 'c5', emailKey: 'gone2@example.com' }]);
    expect(await mirror.removalBatch('run_a', 2, 1)).toEqual([]);
    expect((await mirror.get('run_a'))?.plannedRemovals).toBe(2);
  });

  it('finds the contact ids of removals the list read gave by email only: from the ledger, then from ids found in Constant Contact', async () => {
    await snapshotOf(t, 'run_e', ['keep@example.com']);
    await mirror.beginListRead('run_e', 'list-1', NOW);
    await mirror.addListMembers('run_e', [
      { contactId: null, email: 'keep@example.com' },
      { contactId: null, email: 'Known@example.com' },
      { contactId: null, email: 'unknown@example.com' },
      { contactId: null, email: 'gone@example.com' },
    ]);
    expect(await mirror.planRemovals('run_e', 500, NOW)).toEqual({ listMembers: 4, plannedRemovals: 3, batches: 1 });
    await t.store.ledger.markRemoved({ exportId: 'exp_1', listId: 'list-1' }, ['known@example.com'], 'run_old', NOW);
    await t.store.db.run(`UPDATE delivery_ledger SET contact_id = 'c-known' WHERE email_key = 'known@example.com'`);
    await mirror.idsFromLedger('run_e', 'exp_1', 'list-1');
    expect(await mirror.removalsWithoutId('run_e')).toEqual(['gone@example.com', 'unknown@example.com']);
    await mirror.setRemovalIds('run_e', [{ email: ' Unknown@Example.com', contactId: 'c-unknown' }]);
    expect(await mirror.countRemovalsWithId('run_e')).toBe(2);
    expect(await mirror.removalBatch('run_e', 0, 500)).toEqual([
      { contactId: 'c-known', emailKey: 'known@example.com' },
      { contactId: 'c-unknown', emailKey: 'unknown@example.com' },
    ]);
  });

  it('keeps the plan once a removal request was made, and counts each batch once', async () => {
    await snapshotOf(t, 'run_b', ['a@example.com']);
    await mirror.beginListRead('run_b', 'list-1', NOW);
    await mirror.addListMembers('run_b', [
      { contactId: 'c1', email: 'a@example.com' },
      { contactId: 'c2', email: 'b@example.com' },
    ]);
    expect((await mirror.planRemovals('run_b', 500, NOW)).plannedRemovals).toBe(1);
    await mirror.recordBatchPosted('run_b', 0, 1, 'act-1');
    await mirror.recordBatchPosted('run_b', 0, 1, 'act-2');
    expect((await mirror.getBatch('run_b', 0))?.activityId).toBe('act-1');
    await mirror.addListMembers('run_b', [{ contactId: 'c3', email: 'c@example.com' }]);
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
    await mirror.addListMembers('run_d', [{ contactId: 'c1', email: 'a@example.com' }]);
    await mirror.beginListRead('run_d', 'list-1', NOW);
    expect(await mirror.countListMembers('run_d')).toBe(0);
  });
});
