import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { createApp } from '../../api/app';
import { createExpressServer } from '../../api/express-server';
import { parseConfig } from '../../common/config';
import { createLogger } from '../../common/logger';
import { createConstantContactClient } from '../../constant-contact/client';
import { openStore, type Store } from '../../store';
import { TEST_SECRETS_KEY } from '../helpers/stores';

/**
 * The API alone over an in-memory SQLite store, for the console's sign-in and static files: no
 * Temporal server, no sandbox (Temporal is a lazy connection nobody dials; Constant Contact is never
 * called by these routes). Several apps can share one store, as API processes behind a load balancer.
 */

export const ADMIN_KEY = 'admin-key-0123456789abcdef';
export const CONTRIBUTOR_KEY = 'contributor-key-0123456789';
export const BOTH_KEYS = `admin:${ADMIN_KEY},contributor:${CONTRIBUTOR_KEY}`;

export interface SessionApp {
  baseUrl: string;
  store: Store;
  /** The API's clock: tests move it to expire sessions. */
  clock: { now: Date };
  close(): Promise<void>;
}

export async function openMemoryStore(): Promise<Store> {
  return openStore({ secretsKey: TEST_SECRETS_KEY });
}

export async function startSessionApp(options: { store: Store; env?: Record<string, string>; clock?: { now: Date } }): Promise<SessionApp> {
  const config = parseConfig({ NODE_ENV: 'test', API_KEYS: BOTH_KEYS, SECRETS_KEY: TEST_SECRETS_KEY, ...options.env });
  const logger = createLogger('silent');
  const clock = options.clock ?? { now: new Date('2030-01-01T08:00:00Z') };
  const connection = Connection.lazy({ address: '127.0.0.1:1' });
  const temporal = new Client({ connection, namespace: 'default' });
  const constantContact = createConstantContactClient({ config: config.constantContact, tokens: options.store.tokens, rateLimits: options.store.rateLimits, logger });
  const app = createApp({ config, store: options.store, logger, temporal, constantContact, clock: () => clock.now });
  const { server, serve } = createExpressServer();
  serve(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    store: options.store,
    clock,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connection.close().catch(() => undefined);
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export async function call(baseUrl: string, method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    redirect: 'manual',
    headers: { ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body };
}

/** Signs in with a key and returns the cookie (name=value) and the CSRF token. */
export async function signIn(baseUrl: string, apiKey: string, headers: Record<string, string> = {}): Promise<{ cookie: string; csrfToken: string; answer: Answer }> {
  const answer = await call(baseUrl, 'POST', '/console/session', { body: { apiKey }, headers });
  if (answer.status !== 201) throw new Error(`sign-in answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  const setCookie = answer.headers.get('set-cookie') ?? '';
  return { cookie: setCookie.split(';')[0], csrfToken: answer.body.csrfToken, answer };
}
