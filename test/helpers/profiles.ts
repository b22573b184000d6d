import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../../api/app';
import { createApiServer } from '../../api/listener';
import { parseConfig } from '../../common/config';
import type { Logger } from '../../common/logger';
import type { ConstantContactApi } from '../../constant-contact/types';
import type { Store } from '../../store';
import type { Attributes } from '../../store/types';
import { createTestStore, openSameStore, TEST_SECRETS_KEY, type StoreKind, type TestStore } from './stores';

/**
 * The profile and segment routes over HTTP on a loopback port, with a real store (SQLite file or
 * PostgreSQL schema). Temporal is a lazy client that these routes never call; Constant Contact is a
 * stub that throws if anything calls it.
 */

export type Role = 'admin' | 'contributor' | 'none';

/** Response bodies in tests are loosely typed JSON that assertions read field by field. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonBody = any;

export interface HttpResponse<T = JsonBody> {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: T;
}

export interface ProfilesApp {
  baseUrl: string;
  store: Store;
  testStore: TestStore;
  /** JSON request (body serialized) or a raw body with its content type. */
  request<T = JsonBody>(method: string, path: string, options?: { role?: Role; body?: unknown; raw?: string | Buffer | AsyncIterable<Buffer | string>; contentType?: string; headers?: Record<string, string> }): Promise<HttpResponse<T>>;
  close(): Promise<void>;
}

export const throwingConstantContact = new Proxy(
  {},
  {
    get: (_target, prop) => {
      if (prop === 'then') return undefined;
      return () => {
        throw new Error(`Constant Contact is not used by these routes (called ${String(prop)})`);
      };
    },
  },
) as ConstantContactApi;

/**
 * With `sameStoreAs`, the app is another API process over the other app's database (its own
 * connection); closing it leaves the database to the other app.
 */
export async function createProfilesApp(kind: StoreKind, options: { sameStoreAs?: ProfilesApp } = {}): Promise<ProfilesApp> {
  const shared = options.sameStoreAs?.testStore;
  const testStore: TestStore = shared ? { ...shared, store: await openSameStore(shared), destroy: async () => undefined } : await createTestStore(kind);
  const store = testStore.store;
  const keys = { admin: `adm-${randomBytes(12).toString('hex')}`, contributor: `con-${randomBytes(12).toString('hex')}` };
  const config = parseConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    ...testStore.env,
    API_KEYS: `admin:${keys.admin},contributor:${keys.contributor}`,
    SECRETS_KEY: TEST_SECRETS_KEY,
    // Tests fire requests back to back; the rate limit has tests of its own.
    API_RATE_LIMIT_PER_SECOND: '1000',
    API_RATE_LIMIT_BURST: '1000',
  });
  const connection = Connection.lazy({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const temporal = new Client({ connection });
  const logger = pino({ level: 'silent' }) as unknown as Logger;
  const app = createApp({ config, store, logger, temporal, constantContact: throwingConstantContact });
  const { server, serve } = createApiServer(config.api);
  serve(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const request: ProfilesApp['request'] = (method, path, options = {}) =>
    new Promise((resolve, reject) => {
      const role = options.role ?? 'admin';
      const headers: Record<string, string> = { ...options.headers };
      if (role !== 'none') headers.authorization = `Bearer ${keys[role]}`;
      let payload: string | Buffer | AsyncIterable<Buffer | string> | undefined = options.raw;
      if (options.body !== undefined) payload = JSON.stringify(options.body);
      if (payload !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
      if (typeof payload === 'string' || Buffer.isBuffer(payload)) headers['content-length'] = String(Buffer.byteLength(payload));
      const req = http.request(`${baseUrl}${path}`, { method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: body as JsonBody });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      if (payload === undefined) return req.end();
      if (typeof payload === 'string' || Buffer.isBuffer(payload)) return req.end(payload);
      void (async () => {
        try {
          for await (const chunk of payload) {
            if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
          }
          req.end();
        } catch (err) {
          req.destroy(err as Error);
        }
      })();
    });

  return {
    baseUrl,
    store,
    testStore,
    request,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await connection.close().catch(() => undefined);
      if (shared) await store.close();
      else await testStore.destroy();
    },
  };
}

/** Fictional profiles for rule tests (no real people): Latvian names, mixed types, missing attributes. */
export const FIXTURE_PROFILES: { id: string; attributes: Attributes }[] = [
  { id: 'p01', attributes: { firstName: 'Jānis', lastName: 'Bērziņš', Country: 'LV', age: 34, vip: true, email: 'janis.berzins@example.test', tier: 'gold' } },
  { id: 'p02', attributes: { firstName: 'JĀNIS', lastName: 'OZOLIŅŠ', Country: 'LV', age: 51, vip: false, email: 'J.Ozolins@Example.Test ', tier: 'silver' } },
  { id: 'p03', attributes: { firstName: 'Anna', lastName: 'Kalniņa', Country: 'EE', age: '10', vip: 'true', email: 'anna@example.test' } },
  { id: 'p04', attributes: { firstName: 'Pēteris', Country: 'lv', age: 5, score: 7.5, email: null } },
  { id: 'p05', attributes: { firstName: 'Līga', Country: null, age: 29.5, signup: '2024-03-01' } },
  { id: 'p06', attributes: { lastName: 'Smith', Country: 'US', signup: '2023-12-31', score: 10 } },
  { id: 'p07', attributes: {} },
];

export async function seedProfiles(store: Store, profiles = FIXTURE_PROFILES): Promise<void> {
  await store.profiles.upsertMany(profiles);
}

/** An async iterable of NDJSON lines, generated lazily (for streaming bodies). */
export async function* ndjsonLines(count: number, make: (i: number) => object, linesPerChunk = 500): AsyncGenerator<string> {
  let buf = '';
  for (let i = 0; i < count; i++) {
    buf += `${JSON.stringify(make(i))}\n`;
    if ((i + 1) % linesPerChunk === 0) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}
