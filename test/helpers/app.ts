import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../../api/app';
import { createApiMetrics } from '../../api/metrics';
import { constantContactObserver } from '../../services/events';
import { applyLimits, createApiServerWithoutLimits } from '../../api/listener';
import type { ExportHooks } from '../../api/deps';
import { parseConfig, type Config } from '../../common/config';
import type { Logger } from '../../common/logger';
import { createConstantContactClient } from '../../constant-contact/client';
import type { ConstantContactApi } from '../../constant-contact/types';
import { createSandbox, type Sandbox, type SandboxAddress, type SandboxOptions } from '../../sandbox/server';
import type { Store } from '../../store';
import { createTestStore, TEST_SECRETS_KEY, type StoreKind, type TestStore } from './stores';
import { testTemporal } from './temporal';

/**
 * The whole API on loopback ports, as a user drives it: a real Constant Contact sandbox, a fresh
 * store (SQLite file or PostgreSQL schema), a Temporal client on the jest dev server, the real
 * Constant Contact client pointed at the sandbox, and createApp listening on port 0.
 *
 *   const app = await createTestApp({ kind: 'sqlite' });
 *   const connectionId = await connectSandboxConnection(app);
 *   const res = await app.as('admin').post('/v1/exports', {...});
 *   await app.close();
 *
 * Every OAuth request goes through a recording proxy in front of the sandbox, so `app.secrets` holds
 * every token, refresh token and authorization code the sandbox issued (tests search responses,
 * logs, the database and workflow histories for them). Every log line of the service is kept in
 * `app.logLines` (a logger without redaction: code must not log secrets in the first place).
 */

export type Caller = 'admin' | 'contributor' | 'none';

/** Response bodies in tests are loosely typed JSON that assertions read field by field. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonBody = any;

export interface TestAppOptions {
  kind: StoreKind;
  /** Sandbox options (rate limits, token lifetimes, clock, …). */
  sandbox?: Partial<SandboxOptions>;
  /** Extra environment for parseConfig (e.g. CC_RATE_PER_SECOND). */
  env?: Record<string, string>;
  exportHooks?: ExportHooks;
  /** The API's clock (tickets and OAuth states expire by it). */
  clock?: () => Date;
  /** Wraps the Constant Contact client the API uses (to count or fail calls in a test). */
  wrapConstantContact?: (client: ConstantContactApi) => ConstantContactApi;
}

export interface TestResponse<T = JsonBody> {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  body: T;
}

export interface RequestOptions {
  /** A JSON value, serialized; or use `raw` for a body sent as is. */
  body?: unknown;
  raw?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface Requester {
  get<T = JsonBody>(path: string, options?: RequestOptions): Promise<TestResponse<T>>;
  post<T = JsonBody>(path: string, body?: unknown, options?: RequestOptions): Promise<TestResponse<T>>;
  put<T = JsonBody>(path: string, body?: unknown, options?: RequestOptions): Promise<TestResponse<T>>;
  patch<T = JsonBody>(path: string, body?: unknown, options?: RequestOptions): Promise<TestResponse<T>>;
  delete<T = JsonBody>(path: string, options?: RequestOptions): Promise<TestResponse<T>>;
  request<T = JsonBody>(method: string, path: string, options?: RequestOptions): Promise<TestResponse<T>>;
}

export interface TestApp {
  baseUrl: string;
  /** The API's HTTP server (to watch its side of a connection). */
  server: http.Server;
  adminKey: string;
  contributorKey: string;
  config: Config;
  store: Store;
  testStore: TestStore;
  sandbox: Sandbox;
  /** The sandbox's own addresses (direct, not through the OAuth proxy): control API at baseUrl/__sandbox. */
  sandboxAddress: SandboxAddress;
  temporal: Client;
  constantContact: ConstantContactApi;
  logger: Logger;
  /** Every line the service logged (JSON). */
  logLines: string[];
  /** Every token, refresh token and authorization code the sandbox issued to this app. */
  secrets: Set<string>;
  /** Requests with a role's key, or with no key at all. */
  as(caller: Caller): Requester;
  /** A request with a raw Authorization header value (or none). */
  requester(authorization: string | undefined): Requester;
  /** POST to the sandbox control API (`/__sandbox/...`). */
  sandboxControl<T = JsonBody>(method: string, path: string, body?: unknown): Promise<TestResponse<T>>;
  /** Every table of the store as sorted JSON rows, to compare before and after. */
  dumpTables(options?: { exclude?: string[] }): Promise<Record<string, string[]>>;
  close(): Promise<void>;
}

/**
 * What the fixtures that drive the API need of an app: requests by role, and a set that keeps the
 * OAuth codes they see. A TestApp is one; so is a driver of an API running in another process.
 */
export type ApiDriver = Pick<TestApp, 'as' | 'secrets'>;

export async function createTestApp(options: TestAppOptions): Promise<TestApp> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  };
  try {
    const sandbox = createSandbox(options.sandbox ?? {});
    const sandboxAddress = await sandbox.listen(0);
    cleanups.push(() => sandbox.close());

    const secrets = new Set<string>();
    const proxy = await startOAuthProxy(sandboxAddress.baseUrl, secrets);
    cleanups.push(() => proxy.close());

    const testStore = await createTestStore(options.kind);
    cleanups.push(() => testStore.destroy());

    // Listen first: the public base URL (authorize links, the OAuth redirect URI) needs the port.
    // The server gets its limits once the configuration is known (applyLimits below).
    const { server, serve } = createApiServerWithoutLimits();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const port = (server.address() as AddressInfo).port;
    const baseUrl = `http://127.0.0.1:${port}`;

    const adminKey = `admin-${randomBytes(16).toString('hex')}`;
    const contributorKey = `contributor-${randomBytes(16).toString('hex')}`;
    const temporalInfo = testTemporal();
    const config = parseConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'trace',
      ...testStore.env,
      PORT: String(port),
      PUBLIC_BASE_URL: baseUrl,
      API_KEYS: `admin:${adminKey},contributor:${contributorKey}`,
      SECRETS_KEY: TEST_SECRETS_KEY,
      TEMPORAL_ADDRESS: temporalInfo.address,
      TEMPORAL_NAMESPACE: temporalInfo.namespace,
      ...(temporalInfo.uiUrl ? { TEMPORAL_UI_URL: temporalInfo.uiUrl } : {}),
      CC_SANDBOX: 'true',
      CC_API_BASE_URL: sandboxAddress.apiBaseUrl,
      CC_AUTH_BASE_URL: `${proxy.baseUrl}/oauth2/default/v1`,
      CC_CLIENT_ID: sandbox.options.clientId,
      CC_CLIENT_SECRET: sandbox.options.clientSecret,
      CC_RATE_PER_SECOND: String(sandbox.options.ratePerSecond),
      CC_RATE_PER_DAY: String(sandbox.options.ratePerDay),
      // Tests fire requests back to back; the rate limit has tests of its own.
      API_RATE_LIMIT_PER_SECOND: '1000',
      API_RATE_LIMIT_BURST: '1000',
      API_KEEP_ALIVE_TIMEOUT_SECONDS: '1',
      ...options.env,
    });

    const logLines: string[] = [];
    const logger = pino(
      { level: 'trace', name: 'api' },
      new Writable({
        write(chunk, _encoding, callback) {
          logLines.push(...String(chunk).split('\n').filter(Boolean));
          callback();
        },
      }),
    ) as unknown as Logger;

    const connection = Connection.lazy({ address: config.temporal.address });
    const temporal = new Client({ connection, namespace: config.temporal.namespace });
    cleanups.push(() => connection.close());

    const metrics = createApiMetrics();
    const realClient = createConstantContactClient({
      config: config.constantContact,
      tokens: testStore.store.tokens,
      rateLimits: testStore.store.rateLimits,
      logger,
      observer: constantContactObserver({ config, store: testStore.store, temporal, logger, metrics }),
    });
    cleanups.push(async () => (realClient as { close?: () => Promise<void> }).close?.());
    const constantContact = options.wrapConstantContact ? options.wrapConstantContact(realClient) : realClient;

    const app = createApp({ config, store: testStore.store, logger, temporal, constantContact, exportHooks: options.exportHooks, clock: options.clock, metrics });
    applyLimits(server, config.api);
    serve(app);

    const requester = (authorization: string | undefined) => requesterFor(baseUrl, authorization);
    const keyOf = (caller: Caller) => (caller === 'admin' ? adminKey : caller === 'contributor' ? contributorKey : undefined);

    return {
      baseUrl,
      server,
      adminKey,
      contributorKey,
      config,
      store: testStore.store,
      testStore,
      sandbox,
      sandboxAddress,
      temporal,
      constantContact,
      logger,
      logLines,
      secrets,
      as: (caller) => requester(keyOf(caller) && `Bearer ${keyOf(caller)}`),
      requester,
      sandboxControl: (method, path, body) => send(sandboxAddress.baseUrl, method, `/__sandbox${path}`, body === undefined ? {} : { body }),
      dumpTables: (o) => dumpTables(testStore.store, o?.exclude ?? []),
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Requests to the API at `baseUrl` with this Authorization header value (or none). */
export function requesterFor(baseUrl: string, authorization: string | undefined): Requester {
  const request = <T>(method: string, path: string, o: RequestOptions = {}) =>
    send<T>(baseUrl, method, path, { ...o, headers: { ...(authorization ? { authorization } : {}), ...o.headers } });
  return {
    request,
    get: (path, o) => request('GET', path, o),
    delete: (path, o) => request('DELETE', path, o),
    post: (path, body, o) => request('POST', path, { ...o, ...(body !== undefined ? { body } : {}) }),
    put: (path, body, o) => request('PUT', path, { ...o, ...(body !== undefined ? { body } : {}) }),
    patch: (path, body, o) => request('PATCH', path, { ...o, ...(body !== undefined ? { body } : {}) }),
  };
}

async function send<T>(baseUrl: string, method: string, path: string, o: RequestOptions): Promise<TestResponse<T>> {
  const headers: Record<string, string> = { ...o.headers };
  let body: string | Buffer | undefined;
  if (o.raw !== undefined) {
    body = o.raw;
    headers['content-type'] ??= o.contentType ?? 'application/json';
  } else if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['content-type'] ??= o.contentType ?? 'application/json';
  }
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body, redirect: 'manual' });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: parsed as T };
}

// ---------------------------------------------------------------- the OAuth handshake

export interface Authorization {
  /** 302 from GET /v1/connections/{id}/authorize?ticket. */
  authorizeResponse: TestResponse;
  /** Where the API sent the browser: Constant Contact's (the sandbox's) authorize URL. */
  constantContactUrl: URL;
  /** Where the sandbox sent the browser back: our callback with code and state. */
  callbackUrl: URL;
  callbackResponse: TestResponse;
}

/** Follows an authorizeUrl like a browser: our 302 → the sandbox's authorize → 302 → our callback. */
export async function followAuthorization(app: ApiDriver, authorizeUrl: string): Promise<Authorization> {
  const browser = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
  const authorizeResponse = await fetchAs(authorizeUrl, browser);
  if (authorizeResponse.status !== 302) {
    throw new Error(`GET authorizeUrl answered ${authorizeResponse.status}, not 302: ${authorizeResponse.text.slice(0, 300)}`);
  }
  const constantContactUrl = new URL(authorizeResponse.headers.get('location')!);
  const approved = await fetchAs(constantContactUrl.toString(), browser);
  if (approved.status !== 302) throw new Error(`the sandbox's authorize answered ${approved.status}: ${approved.text.slice(0, 300)}`);
  const callbackUrl = new URL(approved.headers.get('location')!);
  const code = callbackUrl.searchParams.get('code');
  if (code) app.secrets.add(code);
  const callbackResponse = await fetchAs(callbackUrl.toString(), browser);
  return { authorizeResponse, constantContactUrl, callbackUrl, callbackResponse };
}

async function fetchAs(url: string, headers: Record<string, string>): Promise<TestResponse> {
  const res = await fetch(url, { headers, redirect: 'manual' });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body };
}

/**
 * Creates a connection through the API and authorizes it against the sandbox like an admin's
 * browser would. Returns the id of the connection, now `connected`.
 */
export async function connectSandboxConnection(
  app: ApiDriver,
  input: { displayName?: string; usableBy?: 'admins' | 'admins-and-contributors' } = {},
): Promise<string> {
  const created = await app.as('admin').post('/v1/connections', {
    displayName: input.displayName ?? 'Sandbox account',
    usableBy: input.usableBy ?? 'admins',
    dataPrivacyConsent: true,
  });
  if (created.status !== 201) throw new Error(`POST /v1/connections answered ${created.status}: ${created.text}`);
  const { callbackResponse } = await followAuthorization(app, created.body.authorizeUrl);
  if (callbackResponse.status !== 200) throw new Error(`the OAuth callback answered ${callbackResponse.status}: ${callbackResponse.text.slice(0, 300)}`);
  const connection = await app.as('admin').get(`/v1/connections/${created.body.id}`);
  if (connection.body?.status !== 'connected') throw new Error(`the connection is ${connection.body?.status}, not connected`);
  return created.body.id as string;
}

/**
 * A pass-through proxy in front of the sandbox for the OAuth endpoints; it keeps every
 * access_token and refresh_token of the token endpoint's answers, and every code of the
 * authorize redirects.
 */
async function startOAuthProxy(target: string, secrets: Set<string>): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (up) => {
        const location = up.headers.location;
        if (location) {
          try {
            const code = new URL(location).searchParams.get('code');
            if (code) secrets.add(code);
          } catch {
            /* not a URL */
          }
        }
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const body = Buffer.concat(chunks);
          try {
            const json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
            for (const key of ['access_token', 'refresh_token', 'id_token']) if (typeof json[key] === 'string') secrets.add(json[key] as string);
          } catch {
            /* not JSON */
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(body);
        });
        up.on('error', () => res.destroy());
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------- the store, as text

export async function dumpTables(store: Store, exclude: string[] = []): Promise<Record<string, string[]>> {
  const tables =
    store.db.dialect === 'sqlite'
      ? await store.db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      : await store.db.all<{ name: string }>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
        );
  const dump: Record<string, string[]> = {};
  for (const { name } of tables) {
    if (exclude.includes(name)) continue;
    const rows = await store.db.all(`SELECT * FROM "${name.replace(/"/g, '')}"`);
    dump[name] = rows.map((r) => JSON.stringify(r)).sort();
  }
  return dump;
}
