import { Agent, request } from 'undici';
import type { Config } from '../../common/config';
import { createLogger } from '../../common/logger';
import { createConstantContactClient, createPkcePair, type ConstantContactClient, type ConstantContactClientDeps } from '../../constant-contact/client';
import { createSandbox, type Sandbox, type SandboxAddress, type SandboxOptions } from '../../sandbox/server';
import type { SandboxStats } from '../../sandbox/state';
import type { Store } from '../../store';
import { createTestStore, openSameStore, type StoreKind, type TestStore } from '../helpers/stores';

export const REDIRECT_URI = 'http://127.0.0.1:3999/v1/oauth/constant-contact/callback';
export const silentLogger = createLogger('silent');

export interface RunningSandbox {
  sandbox: Sandbox;
  address: SandboxAddress;
  control<T = unknown>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T>;
  stats(): Promise<SandboxStatsJson>;
  close(): Promise<void>;
}

/** GET /__sandbox/stats: the account's counters and today's requests. */
export type SandboxStatsJson = SandboxStats & { requestsToday: number };

/** The sandbox's control API at `address`, with its own connection pool (closed by `close`). */
export function sandboxControl(address: SandboxAddress): Omit<RunningSandbox, 'sandbox' | 'address'> {
  const agent = new Agent();
  const control = async <T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> => {
    const res = await request(`${address.baseUrl}/__sandbox${path}`, {
      dispatcher: agent,
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`sandbox control ${method} ${path}: ${res.statusCode} ${text}`);
    return (res.headers['content-type'] ?? '').toString().includes('json') ? (JSON.parse(text) as T) : (text as T);
  };
  return { control, stats: () => control<SandboxStatsJson>('GET', '/stats'), close: () => agent.close() };
}

export async function startSandbox(options: Partial<SandboxOptions> = {}): Promise<RunningSandbox> {
  const sandbox = createSandbox(options);
  const address = await sandbox.listen(0);
  const control = sandboxControl(address);
  return {
    ...control,
    sandbox,
    address,
    close: async () => {
      await sandbox.close();
      await control.close();
    },
  };
}

export function ccConfig(address: SandboxAddress, overrides: Partial<Config['constantContact']> = {}): Config['constantContact'] {
  return {
    sandbox: true,
    apiBaseUrl: address.apiBaseUrl,
    authBaseUrl: address.authBaseUrl,
    clientId: 'sandbox-client',
    clientSecret: 'sandbox-secret',
    redirectUri: REDIRECT_URI,
    ratePerSecond: 4,
    ratePerDay: 10_000,
    maxContactsPerImport: 40_000,
    maxImportBytes: 4 * 1024 * 1024 - 64 * 1024,
    sandboxPort: address.port,
    ...overrides,
  };
}

export function makeClient(
  store: Store,
  config: Config['constantContact'],
  extra: Partial<ConstantContactClientDeps> = {},
): ConstantContactClient {
  return createConstantContactClient({ config, tokens: store.tokens, rateLimits: store.rateLimits, logger: silentLogger, ...extra });
}

let connectionCounter = 0;

/** A connections row as ConnectionRepository would create it (pending authorization, no tokens). */
export async function insertConnection(store: Store, id = `conn-${process.pid}-${++connectionCounter}`): Promise<string> {
  const now = new Date().toISOString();
  await store.db.run(
    `INSERT INTO connections (id, display_name, usable_by, status, consent_at, created_at, updated_at)
     VALUES (?, ?, 'admins', 'pending-authorization', ?, ?, ?)`,
    [id, `Test connection ${id}`, now, now, now],
  );
  return id;
}

/** The browser part of the authorization: the sandbox approves at once and redirects with code and state. */
export async function followAuthorize(authorizeUrl: string): Promise<{ code: string; state: string; location: URL }> {
  const agent = new Agent();
  const res = await request(authorizeUrl, { method: 'GET', dispatcher: agent });
  await res.body.dump();
  await agent.close();
  if (res.statusCode !== 302) throw new Error(`authorize answered ${res.statusCode}`);
  const location = new URL(String(res.headers.location));
  const code = location.searchParams.get('code');
  const state = location.searchParams.get('state');
  if (!code || !state) throw new Error(`authorize redirected without code or state: ${location.searchParams.get('error') ?? ''}`);
  return { code, state, location };
}

/** The whole authorization-code-with-PKCE flow; the connection ends up connected with saved tokens. */
export async function authorizeConnection(client: ConstantContactClient, store: Store, connectionId: string): Promise<void> {
  const pkce = createPkcePair();
  const state = `state-${connectionId}`;
  const { code, state: returned } = await followAuthorize(client.authorizeUrl({ state, codeChallenge: pkce.codeChallenge }));
  if (returned !== state) throw new Error('state mismatch');
  const tokens = await client.exchangeCode({ code, codeVerifier: pkce.codeVerifier });
  await store.tokens.save(connectionId, tokens);
}

export { openSameStore };

/** Runs fn and returns the error it throws (failing when it does not throw). */
export async function caught(fn: () => Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await fn();
  } catch (err) {
    return err as Error & Record<string, unknown>;
  }
  throw new Error('expected the call to fail');
}

/**
 * For a describe block: a fresh store and a second Store over the same database, as another process
 * would open it; `set` receives both before the tests, and both are closed after them.
 */
export function useStoreOpenedTwice(kind: StoreKind, set: (ts: TestStore, other: Store) => void): void {
  let ts: TestStore | undefined;
  let other: Store | undefined;
  beforeAll(async () => {
    ts = await createTestStore(kind);
    other = await openSameStore(ts);
    set(ts, other);
  });
  afterAll(async () => {
    await other?.close();
    await ts?.destroy();
  });
}

export interface ConnectedClient {
  ts: TestStore;
  sb: RunningSandbox;
  client: ConstantContactClient;
  /** A connection authorized through the client, its tokens saved in the store. */
  connectionId: string;
}

/**
 * For a describe block: a fresh store, a sandbox, a client of it and an authorized connection;
 * `set` receives them before the tests, and all is closed after them.
 */
export function useConnectedClient(
  kind: StoreKind,
  options: { sandbox?: Partial<SandboxOptions>; client?: Partial<ConstantContactClientDeps> },
  set: (c: ConnectedClient) => void,
): void {
  let c: ConnectedClient | undefined;
  beforeAll(async () => {
    const ts = await createTestStore(kind);
    const sb = await startSandbox(options.sandbox);
    const client = makeClient(ts.store, ccConfig(sb.address), options.client);
    const connectionId = await insertConnection(ts.store);
    await authorizeConnection(client, ts.store, connectionId);
    c = { ts, sb, client, connectionId };
    set(c);
  });
  afterAll(async () => {
    await c?.client.close();
    await c?.sb.close();
    await c?.ts.destroy();
  });
}
