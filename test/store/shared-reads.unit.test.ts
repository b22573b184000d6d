import { SharedReads } from '../../store/shared-reads';

/** A load whose statement the test finishes by hand; it answers the version the "database" held when it began. */
function database() {
  let version = 0;
  const started: { finish(): void; fail(err: Error): void }[] = [];
  const load = () =>
    new Promise<number>((resolve, reject) => {
      const seen = version;
      started.push({ finish: () => resolve(seen), fail: reject });
    });
  return { load, started, write: () => version++ };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('SharedReads', () => {
  it('gives the callers who ask while a read is under way one read that begins after it', async () => {
    const db = database();
    const reads = new SharedReads();
    const first = reads.read('k', db.load);
    db.write(); // committed while the first read runs: the callers below must see it
    const later = [reads.read('k', db.load), reads.read('k', db.load), reads.read('k', db.load)];
    expect(db.started).toHaveLength(1);

    db.started[0].finish();
    expect(await first).toBe(0);
    await tick();
    expect(db.started).toHaveLength(2);
    db.started[1].finish();
    expect(await Promise.all(later)).toEqual([1, 1, 1]);
    expect(reads.pending).toBe(0);
  });

  it('does not share between different reads', async () => {
    const db = database();
    const reads = new SharedReads();
    const a = reads.read('a', db.load);
    const b = reads.read('b', db.load);
    expect(db.started).toHaveLength(2);
    db.started.forEach((s) => s.finish());
    expect(await Promise.all([a, b])).toEqual([0, 0]);
  });

  it('a caller who asks once a read has finished gets a read of its own', async () => {
    const db = database();
    const reads = new SharedReads();
    const first = reads.read('k', db.load);
    db.started[0].finish();
    await first;
    db.write();
    const second = reads.read('k', db.load);
    expect(db.started).toHaveLength(2);
    db.started[1].finish();
    expect(await second).toBe(1);
  });

  it('a failed read fails only its own callers, and the waiting ones still get their read', async () => {
    const db = database();
    const reads = new SharedReads();
    const first = reads.read('k', db.load);
    const waiting = reads.read('k', db.load);
    db.started[0].fail(new Error('connection lost'));
    await expect(first).rejects.toThrow('connection lost');
    await tick();
    db.started[1].finish();
    expect(await waiting).toBe(0);
    expect(reads.pending).toBe(0);
  });
});
