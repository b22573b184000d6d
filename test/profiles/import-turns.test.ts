import { importProfiles, inlineImports } from '../../store/profile-import';
import { createTestStore, type TestStore } from '../helpers/stores';

/**
 * An import run in the caller's thread (as the store runs it on an in-memory database) must not
 * hold the event loop from its first batch to its last, even with a synchronous store: here SQLite,
 * whose writes would otherwise let nothing else in the process run until the import ends.
 */
describe('a profile import in the caller\'s thread and the event loop', () => {
  let ts: TestStore;
  beforeAll(async () => {
    ts = await createTestStore('sqlite');
  });
  afterAll(() => ts?.destroy());

  it('gives the event loop a turn after every batch it writes, even when the whole body is already there', async () => {
    const lines = Array.from({ length: 3_000 }, (_, i) => `${JSON.stringify({ id: `turns-${i}`, email: `turns-${i}@example.com`, plan: 'basic' })}\n`);
    async function* buffered() {
      for (let i = 0; i < lines.length; i += 10) yield lines.slice(i, i + 10).join('');
    }
    // A batch every 100 records: 30 batches.
    const batchRecords = 100;
    const batches = lines.length / batchRecords;

    let turns = 0;
    let importing = true;
    const count = () => {
      if (!importing) return;
      turns++;
      setImmediate(count);
    };
    setImmediate(count);
    const inline = { imports: inlineImports(ts.store.profiles), leases: ts.store.leases };
    const result = await importProfiles(buffered(), 'ndjson', inline, { batchRecords });
    importing = false;

    expect(result).toMatchObject({ received: 3_000, upserted: 3_000, rejected: 0 });
    expect(turns).toBeGreaterThanOrEqual(batches);
  });
});
