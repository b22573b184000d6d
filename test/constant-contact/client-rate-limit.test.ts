import { spawn } from 'node:child_process';
import path from 'node:path';
import type { ConstantContactClient } from '../../constant-contact/client';
import { nextUtcMidnight } from '../../store/rate-limits';
import { DEFAULT_LIST_ID } from '../../sandbox/server';
import type { Store } from '../../store';
import { createTestStore, storeKinds, TEST_SECRETS_KEY, testDatabaseUrl, type TestStore } from '../helpers/stores';
import { startSandboxProcess } from '../helpers/sandbox-process';
import { authorizeConnection, caught, ccConfig, insertConnection, makeClient, openSameStore, sandboxControl } from './helpers';

const ROOT = path.resolve(__dirname, '../..');

interface HammerResult {
  ok: number;
  errors: string[];
  ms: number;
}

interface Hammer {
  /** Settles once the child has compiled, opened the store and built its client. */
  ready: Promise<void>;
  /** One call of the child's, the only one in flight: its first request is slow (see the fixture). */
  warm(): Promise<void>;
  start(startAtMs: number): void;
  result: Promise<HammerResult>;
  /** Ends the child if it is still running (a test that failed before it was started). */
  stop(): void;
}

/** Runs the hammer fixture in its own node process (another worker of the same deployment). */
function hammerInChild(input: Record<string, unknown>): Hammer {
  const child = spawn(process.execPath, ['scripts/run-ts.js', 'test/constant-contact/fixtures/hammer.ts'], {
    cwd: ROOT,
    env: { ...process.env, HAMMER_INPUT: JSON.stringify(input) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout.on('data', (d) => {
    out += d;
    for (const listener of listeners) listener();
  });
  child.stderr.on('data', (d) => (err += d));
  const result = new Promise<HammerResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`hammer child exited ${code}: ${err}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as HammerResult);
    });
  });
  result.catch(() => undefined); // awaited by the test; a child stopped after a failure rejects it
  /** Settles once the child has printed `{"<key>":true}` `times` times; fails if it ends first. */
  const printed = (key: string, times: number) =>
    Promise.race([
      new Promise<void>((resolve) => {
        const check = () => {
          if (out.split(`{"${key}":true}`).length - 1 < times) return;
          listeners.delete(check);
          resolve();
        };
        listeners.add(check);
        check();
      }),
      result.then(() => Promise.reject(new Error(`the hammer child ended before it printed ${key}`))),
    ]);
  let warmed = 0;
  return {
    ready: printed('ready', 1),
    warm: () => {
      child.stdin.write(`${JSON.stringify({ warm: true })}\n`);
      return printed('warmed', ++warmed);
    },
    start: (startAtMs) => child.stdin.end(`${JSON.stringify({ startAtMs })}\n`),
    result,
    stop: () => {
      if (child.exitCode === null) child.kill();
    },
  };
}

/** A sandbox in a process of its own: it judges when requests arrive (see startSandboxProcess). */
async function startSeparateSandbox() {
  const running = await startSandboxProcess();
  const control = sandboxControl(running.address);
  return {
    address: running.address,
    stats: control.stats,
    close: async () => {
      await running.stop();
      await control.close();
    },
  };
}

describe.each(storeKinds)('Constant Contact client: shared rate limit (%s)', (kind) => {
  let ts: TestStore;
  let sb: Awaited<ReturnType<typeof startSeparateSandbox>>;
  let clients: ConstantContactClient[] = [];

  beforeAll(async () => {
    ts = await createTestStore(kind);
  });
  afterAll(async () => {
    await ts.destroy();
  });
  beforeEach(async () => {
    sb = await startSeparateSandbox();
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    clients = [];
    await sb.close();
  });

  const client = (store: Store, overrides: Parameters<typeof ccConfig>[1] = {}) => {
    const c = makeClient(store, ccConfig(sb.address, overrides));
    clients.push(c);
    return c;
  };

  it('two worker processes and this one hammering together stay within 4 requests a second, without a 429', async () => {
    const main = client(ts.store);
    const connectionId = await insertConnection(ts.store);
    await authorizeConnection(main, ts.store, connectionId);
    const storeOptions =
      kind === 'sqlite'
        ? { sqliteFile: ts.location, secretsKey: TEST_SECRETS_KEY }
        : { databaseUrl: testDatabaseUrl(), schema: ts.location, secretsKey: TEST_SECRETS_KEY };
    const input = { config: ccConfig(sb.address), store: storeOptions, connectionId, listId: DEFAULT_LIST_ID, calls: 10, concurrency: 3 };
    // And, in this process, a client over another repository instance of the same database.
    const otherStore = await openSameStore(ts);
    const hammers = [hammerInChild(input), hammerInChild(input)];
    try {
      const local = client(otherStore);
      await Promise.all(hammers.map((h) => h.ready));
      // Each process's first request alone in flight, one after the other.
      for (const h of hammers) await h.warm();
      await local.getList(connectionId, DEFAULT_LIST_ID);
      const startAtMs = Date.now() + 200;
      for (const h of hammers) h.start(startAtMs);
      const localCalls = (async () => {
        await new Promise((r) => setTimeout(r, startAtMs - Date.now()));
        const results = await Promise.allSettled(Array.from({ length: 6 }, () => local.getList(connectionId, DEFAULT_LIST_ID)));
        return results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason?.code));
      })();
      const [a, b, localErrors] = await Promise.all([hammers[0].result, hammers[1].result, localCalls]);

      expect(a).toMatchObject({ ok: 10, errors: [] });
      expect(b).toMatchObject({ ok: 10, errors: [] });
      expect(localErrors).toEqual([]);
      const stats = await sb.stats();
      expect(stats.byRoute['GET /v3/contact_lists/:id']).toBe(26 + 3); // and the three first requests
      expect(stats.throttled).toBe(0);
      expect(stats.maxRequestsInOneSecond).toBeLessThanOrEqual(4);
      // Paced, not serialized into oblivion: 26 requests at ~3.3/s take about 8 s.
      expect(Math.max(a.ms, b.ms)).toBeLessThan(20_000);
    } finally {
      for (const h of hammers) h.stop();
      await otherStore.close();
    }
  });

  it('many concurrent calls of one client are paced as well', async () => {
    const c = client(ts.store);
    const connectionId = await insertConnection(ts.store);
    await authorizeConnection(c, ts.store, connectionId);
    await Promise.all(Array.from({ length: 12 }, () => c.getList(connectionId, DEFAULT_LIST_ID)));
    const stats = await sb.stats();
    expect(stats.throttled).toBe(0);
    expect(stats.maxRequestsInOneSecond).toBeLessThanOrEqual(4);
  });

  it('stops at the daily budget with a retryable daily_quota_exhausted until 00:00 UTC, without calling', async () => {
    // A budget of its own (another application key), so the other tests' requests do not count.
    const c = client(ts.store, { clientId: `daily-${kind}`, ratePerDay: 3 });
    const main = client(ts.store);
    const connectionId = await insertConnection(ts.store);
    await authorizeConnection(main, ts.store, connectionId);
    const before = (await sb.stats()).requests;
    for (let i = 0; i < 3; i++) await c.getList(connectionId, DEFAULT_LIST_ID);
    const err = await caught(() => c.getList(connectionId, DEFAULT_LIST_ID));
    expect(err).toMatchObject({ code: 'daily_quota_exhausted', retryable: true });
    const untilReset = nextUtcMidnight(Date.now()) - Date.now();
    expect(Math.abs((err.retryAfterMs as number) - untilReset)).toBeLessThan(5_000);
    expect((await sb.stats()).requests - before).toBe(3);
  });
});
