import { createHash, randomBytes } from 'node:crypto';
import { createSandbox, type Sandbox, type SandboxAddress, type SandboxOptions } from '../../sandbox/server';

export const CLIENT_ID = 'sandbox-client';
export const CLIENT_SECRET = 'sandbox-secret';
export const REDIRECT_URI = 'http://127.0.0.1:3999/v1/oauth/constant-contact/callback';
export const DEFAULT_LIST = '00000000-0000-4000-8000-000000000001';
export const THROTTLED = { error_key: 'throttled', error_message: 'Too Many Requests' };

/** A clock tests move by hand. Starts at noon UTC so that a day boundary is far unless wanted. */
export class FakeClock {
  constructor(public t = Date.UTC(2025, 0, 15, 12, 0, 0)) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface Running {
  sandbox: Sandbox;
  addr: SandboxAddress;
  close(): Promise<void>;
}

/** Starts a sandbox on a free port. Generous limits unless the test sets them. */
export async function start(options: Partial<SandboxOptions> = {}): Promise<Running> {
  const sandbox = createSandbox({ ratePerSecond: 100_000, ratePerDay: 10_000_000, tokenRatePerSecond: 0, importMsPerContact: 0, ...options });
  const addr = await sandbox.listen(0);
  return { sandbox, addr, close: () => sandbox.close() };
}

export interface HttpResult {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

export async function http(url: string, init: RequestInit = {}): Promise<HttpResult> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  const text = await res.text();
  let body: unknown = undefined;
  if (/^application\/json\b/.test(res.headers.get('content-type') ?? '') && text !== '') body = JSON.parse(text);
  return { status: res.status, headers: res.headers, body, text };
}

export function basic(id = CLIENT_ID, secret = CLIENT_SECRET): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

export function token(addr: SandboxAddress, form: Record<string, string>, auth = basic()): Promise<HttpResult> {
  return http(`${addr.authBaseUrl}/token`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(addr: SandboxAddress, params: Record<string, string | undefined>): string {
  const url = new URL(`${addr.authBaseUrl}/authorize`);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.toString();
}

/** Runs the browser step: GET /authorize, returns the redirect's code and state. */
export async function getCode(addr: SandboxAddress, opts: { scope?: string; challenge?: string; state?: string } = {}): Promise<{ code: string; state: string }> {
  const res = await http(
    authorizeUrl(addr, {
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: opts.scope ?? 'contact_data offline_access',
      state: opts.state ?? 'st-1',
      code_challenge: opts.challenge,
      code_challenge_method: opts.challenge ? 'S256' : undefined,
    }),
  );
  if (res.status !== 302) throw new Error(`authorize answered ${res.status}: ${res.text}`);
  const location = new URL(res.headers.get('location')!);
  return { code: location.searchParams.get('code')!, state: location.searchParams.get('state')! };
}

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  expires_in: number;
  token_type: string;
  scope: string;
}

/** The whole authorization code flow with PKCE. */
export async function authorize(addr: SandboxAddress, scope = 'contact_data offline_access'): Promise<Tokens> {
  const { verifier, challenge } = pkce();
  const { code } = await getCode(addr, { scope, challenge });
  const res = await token(addr, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
  if (res.status !== 200) throw new Error(`token answered ${res.status}: ${res.text}`);
  return res.body as Tokens;
}

/** A /v3 call with a bearer token. Path starts with '/'; a relative `_links` href (/v3/...) also works. */
export function api(addr: SandboxAddress, accessToken: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  const url = path.startsWith('/v3/') ? `${addr.baseUrl}${path}` : `${addr.apiBaseUrl}${path}`;
  return http(url, {
    method,
    headers: {
      ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? (body as string) : JSON.stringify(body),
  });
}

export function control(addr: SandboxAddress, method: string, path: string, body?: unknown): Promise<HttpResult> {
  return http(`${addr.baseUrl}/__sandbox${path}`, {
    method,
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export async function members(addr: SandboxAddress, listId: string): Promise<Record<string, any>[]> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await http(`${addr.baseUrl}/__sandbox/lists/${listId}/members`);
  if (res.status !== 200) throw new Error(`members answered ${res.status}`);
  return res.text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

export function decodeJwt(jwt: string): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const [, payload] = jwt.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

/** Posts an import and returns the response. */
export function importContacts(addr: SandboxAddress, accessToken: string, items: unknown[], listIds: string[] = [DEFAULT_LIST]): Promise<HttpResult> {
  return api(addr, accessToken, 'POST', '/activities/contacts_json_import', { import_data: items, list_ids: listIds });
}

/** Polls an activity until it is completed (the sandbox must use a real clock or a 0 duration). */
export async function waitForActivity(addr: SandboxAddress, accessToken: string, id: string, timeoutMs = 10_000): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await api(addr, accessToken, 'GET', `/activities/${id}`);
    if (res.status !== 200) throw new Error(`activity answered ${res.status}: ${res.text}`);
    if (['completed', 'failed', 'cancelled', 'timed_out'].includes(res.body.state)) return res.body;
    if (Date.now() > until) throw new Error(`activity ${id} still ${res.body.state}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The sandbox of a describe block: started and authorized before its tests, closed after them. */
export interface AuthorizedSandbox {
  readonly sandbox: Sandbox;
  readonly addr: SandboxAddress;
  readonly tokens: Tokens;
  /** The access token. */
  readonly token: string;
}

export function useAuthorizedSandbox(options: Partial<SandboxOptions> = {}): AuthorizedSandbox {
  let running: Running | undefined;
  let tokens: Tokens | undefined;
  beforeAll(async () => {
    running = await start(options);
    tokens = await authorize(running.addr);
  });
  afterAll(() => running?.close());
  return {
    get sandbox() {
      return running!.sandbox;
    },
    get addr() {
      return running!.addr;
    },
    get tokens() {
      return tokens!;
    },
    get token() {
      return tokens!.access_token;
    },
  };
}
