import type { Store } from '../../store';
import { storeKinds, type TestStore } from '../helpers/stores';
import { insertConnection, useStoreOpenedTwice } from './helpers';

describe.each(storeKinds)('token repository (%s)', (kind) => {
  let ts: TestStore;
  let other: Store;

  useStoreOpenedTwice(kind, (store, second) => {
    ts = store;
    other = second;
  });

  const tokens = { accessToken: 'access-token-value-1', refreshToken: 'refresh-token-value-1', expiresAt: 1_900_000_000_000 };

  it('keeps tokens encrypted and bound to their connection', async () => {
    const id = await insertConnection(ts.store);
    expect(await ts.store.tokens.read(id)).toBeUndefined();
    expect(await ts.store.tokens.save(id, tokens)).toBe(1);
    expect(await ts.store.tokens.read(id)).toEqual({ tokens, generation: 1, status: 'connected' });

    const raw = await ts.store.db.get<{ tokens: string }>('SELECT tokens FROM connections WHERE id = ?', [id]);
    expect(raw!.tokens).not.toContain('access-token-value');
    expect(raw!.tokens).not.toContain('refresh-token-value');

    // The ciphertext copied to another connection's row does not open there.
    const id2 = await insertConnection(ts.store);
    await ts.store.db.run('UPDATE connections SET tokens = ? WHERE id = ?', [raw!.tokens, id2]);
    await expect(ts.store.tokens.read(id2)).rejects.toThrow();
  });

  it('fails to save tokens for a connection that does not exist', async () => {
    await expect(ts.store.tokens.save('no-such-connection', tokens)).rejects.toThrow(/not found/);
  });

  it('gives the refresh lease to exactly one of many processes at once', async () => {
    const id = await insertConnection(ts.store);
    await ts.store.tokens.save(id, tokens);
    const now = Date.now();
    const attempts = Array.from({ length: 10 }, (_, i) => (i % 2 ? other : ts.store).tokens.acquireRefreshLease(id, `owner-${i}`, 30_000, now));
    const won = (await Promise.all(attempts)).filter(Boolean);
    expect(won).toHaveLength(1);
  });

  it('saves refreshed tokens only while holding the lease, then frees it', async () => {
    const id = await insertConnection(ts.store);
    await ts.store.tokens.save(id, tokens);
    const now = Date.now();
    const refreshed = { accessToken: 'access-2', refreshToken: 'refresh-2', expiresAt: 1_900_000_100_000 };

    expect(await ts.store.tokens.saveRefreshed(id, 'nobody', refreshed)).toBeUndefined();
    expect(await ts.store.tokens.acquireRefreshLease(id, 'a', 30_000, now)).toBe(true);
    expect(await other.tokens.acquireRefreshLease(id, 'b', 30_000, now + 1)).toBe(false);
    expect(await other.tokens.saveRefreshed(id, 'b', refreshed)).toBeUndefined();
    expect(await ts.store.tokens.saveRefreshed(id, 'a', refreshed)).toBe(2);
    expect(await other.tokens.read(id)).toEqual({ tokens: refreshed, generation: 2, status: 'connected' });
    // Released: someone else can take it at once.
    expect(await other.tokens.acquireRefreshLease(id, 'b', 30_000, now + 2)).toBe(true);
    await other.tokens.releaseRefreshLease(id, 'b');
    expect(await ts.store.tokens.acquireRefreshLease(id, 'c', 30_000, now + 3)).toBe(true);
  });

  it('lets another process take an expired lease', async () => {
    const id = await insertConnection(ts.store);
    await ts.store.tokens.save(id, tokens);
    const now = Date.now();
    expect(await ts.store.tokens.acquireRefreshLease(id, 'crashed', 1_000, now)).toBe(true);
    expect(await other.tokens.acquireRefreshLease(id, 'next', 1_000, now + 999)).toBe(false);
    expect(await other.tokens.acquireRefreshLease(id, 'next', 1_000, now + 1_000)).toBe(true);
    expect(await ts.store.tokens.saveRefreshed(id, 'crashed', tokens)).toBeUndefined();
  });

  it('marks a connection needs-reauthorization, unless newer tokens were saved meanwhile', async () => {
    const id = await insertConnection(ts.store);
    const generation = await ts.store.tokens.save(id, tokens);
    await ts.store.tokens.save(id, { ...tokens, accessToken: 'newer' });
    expect(await ts.store.tokens.markNeedsReauthorization(id, generation)).toBe(false);
    expect((await ts.store.tokens.read(id))!.status).toBe('connected');

    expect(await ts.store.tokens.markNeedsReauthorization(id, generation + 1)).toBe(true);
    expect((await ts.store.tokens.read(id))!.status).toBe('needs-reauthorization');
    expect(await ts.store.tokens.acquireRefreshLease(id, 'x', 30_000, Date.now())).toBe(false);

    // A new authorization connects it again.
    await ts.store.tokens.save(id, tokens);
    expect((await ts.store.tokens.read(id))!.status).toBe('connected');
  });
});
