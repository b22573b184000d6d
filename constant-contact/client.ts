import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { z } from 'zod';
import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { RateLimitRepository } from '../store/rate-limits';
import type { StoredTokens, TokenRepository } from '../store/tokens';
import type { TokenSet } from '../store/types';
import { errorFromResponse, networkError, type ErrorContext } from './errors';
import {
  type ActivityState,
  type ActivityStatus,
  type ConstantContactApi,
  ConstantContactError,
  type ContactList,
  type ContactExportStatus,
  type ContactsPage,
  type CustomField,
  type ListMember,
} from './types';
import { CsvParser, type CsvRecord } from '../common/csv';

export { createPkcePair, pkceChallenge, type PkcePair } from './pkce';

export interface ConstantContactClientDeps {
  config: Config['constantContact'];
  tokens: TokenRepository;
  rateLimits: RateLimitRepository;
  logger: Logger;
  /** The time used to judge token expiry (tests move it); pacing and refresh leases, shared with other processes, use the wall clock. */
  clock?: () => Date;
  /** Refresh when the access token expires within this margin (default 5 minutes). */
  refreshMarginMs?: number;
  /** How long a refresh lease is held at most (default 60 s; longer than any token request may take). */
  refreshLeaseMs?: number;
  /** How often a process waiting for another one's refresh re-reads the tokens (default 100 ms). */
  refreshPollMs?: number;
  /** Timeouts of one request (defaults: connect 10 s, headers 30 s, body 60 s); each ends as network_error. */
  timeouts?: { connectMs?: number; headersMs?: number; bodyMs?: number };
}

/** The API plus the lifecycle of the client's connection pool. */
export interface ConstantContactClient extends ConstantContactApi {
  close(): Promise<void>;
}

const SCOPE = 'contact_data offline_access';
/** The token endpoint allows about one request a second, on its own budget. */
const TOKEN_RATE = { perSecond: 1, perDay: 1_000_000_000 };
const MAX_PAGES = 10_000;

// ---------------------------------------------------------------- response schemas (extra fields tolerated)

const linksSchema = z
  .object({ next: z.object({ href: z.string().min(1) }).nullish() })
  .nullish();

const listSchema = z.object({
  list_id: z.string().min(1),
  name: z.string(),
  membership_count: z.number().int().nonnegative().nullish(),
});
const listsPageSchema = z.object({ lists: z.array(listSchema).default([]), _links: linksSchema });

const customFieldSchema = z.object({
  custom_field_id: z.string().min(1),
  label: z.string(),
  name: z.string().min(1),
  type: z.string(),
});
const customFieldsPageSchema = z.object({ custom_fields: z.array(customFieldSchema).default([]), _links: linksSchema });

const activityStates = ['initialized', 'processing', 'completed', 'cancelled', 'failed', 'timed_out'] as const satisfies readonly ActivityState[];
const count = z.number().int().nonnegative().nullish();
const activitySchema = z.object({
  activity_id: z.string().min(1),
  state: z.enum(activityStates),
  percent_done: z.number().nullish(),
  status: z
    .object({
      items_total_count: count,
      items_completed_count: count,
      person_count: count,
      error_count: count,
      correctable_count: count,
      cannot_add_to_list_count: count,
    })
    .nullish(),
});
function activityStatus(a: z.infer<typeof activitySchema>): ActivityStatus {
  const s = a.status ?? {};
  return {
    activityId: a.activity_id,
    state: a.state,
    percentDone: a.percent_done ?? (a.state === 'completed' ? 100 : 0),
    itemsTotal: s.items_total_count ?? 0,
    itemsCompleted: s.items_completed_count ?? 0,
    personCount: s.person_count ?? 0,
    errorCount: s.error_count ?? 0,
    correctableCount: s.correctable_count ?? 0,
    cannotAddToListCount: s.cannot_add_to_list_count ?? 0,
  };
}

const createdActivitySchema = z.object({ activity_id: z.string().min(1) });
const contactExportSchema = activitySchema.extend({
  _links: z.object({ results: z.object({ href: z.string().min(1) }).nullish() }).nullish(),
});
/** The columns a contact export is asked for (mirror mode needs nothing else). */
const CONTACT_EXPORT_FIELDS = ['contact_id', 'email'];
/** Members handed to the caller at a time while a contact export's file streams in. */
const EXPORT_BATCH = 1000;

const contactsPageSchema = z.object({
  contacts: z
    .array(
      z.object({
        contact_id: z.string().min(1),
        email_address: z.object({ address: z.string() }).nullish(),
      }),
    )
    .default([]),
  _links: linksSchema,
});

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().nullish(),
  expires_in: z.number().nullish(),
  refresh_token: z.string().min(1).nullish(),
  scope: z.string().nullish(),
});

// ---------------------------------------------------------------- helpers

/** The `exp` claim of a JWT access token in epoch ms, or undefined when it is not a readable JWT. */
export function jwtExpiresAt(accessToken: string): number | undefined {
  const parts = accessToken.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' && Number.isFinite(payload.exp) ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

const expiresAtOf = (t: TokenSet) => jwtExpiresAt(t.accessToken) ?? t.expiresAt;

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

// ---------------------------------------------------------------- the client

export function createConstantContactClient(deps: ConstantContactClientDeps): ConstantContactClient {
  const { config, tokens, rateLimits, logger } = deps;
  const now = () => (deps.clock ? deps.clock().getTime() : Date.now());
  const refreshMarginMs = deps.refreshMarginMs ?? 5 * 60_000;
  const refreshLeaseMs = deps.refreshLeaseMs ?? 60_000;
  const refreshPollMs = deps.refreshPollMs ?? 100;
  const apiBase = new URL(config.apiBaseUrl.replace(/\/$/, '') + '/');
  const apiOrigin = apiBase.origin;
  const authBase = config.authBaseUrl.replace(/\/$/, '');
  const apiLimits = { perSecond: config.ratePerSecond, perDay: config.ratePerDay };
  const apiKey = config.clientId;
  const tokenKey = `${config.clientId}:token`;
  const basicAuth = 'Basic ' + Buffer.from(`${config.clientId}:${config.clientSecret}`).toString('base64');
  const instance = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  // Sockets stay open between the evenly paced calls; timeouts bound every phase of a request so
  // that a stalled one ends as a retryable network_error (and well within a refresh lease).
  const agent = new Agent({
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    connections: 32,
    connect: { timeout: deps.timeouts?.connectMs ?? 10_000 },
    headersTimeout: deps.timeouts?.headersMs ?? 30_000,
    bodyTimeout: deps.timeouts?.bodyMs ?? 60_000,
  });

  /** Refreshes in flight in this process, so concurrent calls for one connection share one. */
  const refreshing = new Map<string, Promise<StoredTokens>>();

  // -------------------------------------------------------------- pacing

  /**
   * Waits for this process's slot in the shared per-key budget. Pacing runs on the wall clock (not the
   * injected one): it is shared with other processes through the store and it sleeps for real.
   */
  async function pace(key: string, limits: { perSecond: number; perDay: number }): Promise<void> {
    const tolerance = rateLimits.intervalMs(limits.perSecond) - 1000 / limits.perSecond;
    for (let attempt = 0; ; attempt++) {
      // A re-reservation after a late wake-up is not another request of the day.
      const r = await rateLimits.reserve(key, limits, Date.now(), { countDaily: attempt === 0 });
      if (r.exhausted) {
        throw new ConstantContactError(
          'daily_quota_exhausted',
          `the daily request budget of the Constant Contact application is spent; it resets at ${new Date(r.resetAtMs).toISOString()}`,
          true,
          Math.max(0, r.resetAtMs - Date.now()),
        );
      }
      const wait = r.sendAtMs - Date.now();
      if (wait > 0) await sleep(wait);
      // Sending late would crowd the slots reserved after ours: take a new slot instead.
      if (Date.now() - r.sendAtMs <= tolerance || attempt >= 5) return;
    }
  }

  // -------------------------------------------------------------- HTTP

  async function send(
    ctx: ErrorContext,
    url: URL,
    init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string; timeoutMs?: number },
  ): Promise<HttpAnswer> {
    const started = Date.now();
    try {
      const signal = init.timeoutMs ? AbortSignal.timeout(init.timeoutMs) : undefined;
      const res = await request(url, { method: init.method, headers: init.headers, body: init.body, dispatcher: agent, signal });
      const text = await res.body.text();
      logger.debug({ method: init.method, path: url.pathname, status: res.statusCode, ms: Date.now() - started, connectionId: ctx.connectionId }, 'constant contact call');
      return { status: res.statusCode, headers: res.headers, text };
    } catch (err) {
      logger.debug({ method: init.method, path: url.pathname, ms: Date.now() - started, connectionId: ctx.connectionId, code: (err as { code?: string }).code }, 'constant contact call failed');
      throw networkError(ctx, err);
    }
  }

  function parseBody<T>(ctx: ErrorContext, answer: HttpAnswer, schema: z.ZodType<T>): T {
    let json: unknown;
    try {
      json = JSON.parse(answer.text);
    } catch {
      throw new ConstantContactError('invalid_response', `${ctx.what}: the answer (${answer.status}) is not JSON`, false, undefined, answer.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const where = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      throw new ConstantContactError('invalid_response', `${ctx.what}: unexpected answer (${where})`, false, undefined, answer.status);
    }
    return parsed.data;
  }

  // -------------------------------------------------------------- tokens

  /** Calls the token endpoint (paced on its own budget). invalid_grant comes out as needs_reauthorization. */
  async function tokenRequest(form: Record<string, string>, kind: 'exchange' | 'refresh', previous?: TokenSet): Promise<TokenSet> {
    const ctx: ErrorContext = { what: kind === 'exchange' ? 'Constant Contact authorization code exchange' : 'Constant Contact token refresh', oauth: kind };
    await pace(tokenKey, TOKEN_RATE);
    const answer = await send(ctx, new URL(`${authBase}/token`), {
      method: 'POST',
      headers: {
        authorization: basicAuth,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams(form).toString(),
      // A refresh must end well within its lease, whatever the server does.
      timeoutMs: Math.min(30_000, Math.floor(refreshLeaseMs / 2)),
    });
    if (answer.status < 200 || answer.status >= 300) throw errorFromResponse(ctx, answer.status, answer.headers, answer.text, Date.now());
    const t = parseBody(ctx, answer, tokenResponseSchema);
    const expiresAt = jwtExpiresAt(t.access_token) ?? (t.expires_in ? now() + t.expires_in * 1000 : now() + 86_400_000);
    const set: TokenSet = { accessToken: t.access_token, expiresAt };
    const refreshToken = t.refresh_token ?? previous?.refreshToken;
    if (refreshToken) set.refreshToken = refreshToken;
    return set;
  }

  async function currentTokens(connectionId: string): Promise<StoredTokens> {
    const stored = await tokens.read(connectionId);
    if (!stored) throw new ConstantContactError('not_connected', `connection ${connectionId} has no Constant Contact authorization`, false);
    if (stored.status === 'needs-reauthorization') {
      throw new ConstantContactError('needs_reauthorization', `connection ${connectionId} needs a new Constant Contact authorization`, false);
    }
    if (stored.status !== 'connected') throw new ConstantContactError('not_connected', `connection ${connectionId} is not connected`, false);
    return stored;
  }

  /** Tokens good for at least the refresh margin, refreshing first when needed. */
  async function usableTokens(connectionId: string): Promise<StoredTokens> {
    const stored = await currentTokens(connectionId);
    if (expiresAtOf(stored.tokens) - now() > refreshMarginMs) return stored;
    return refreshTokens(connectionId, stored.generation);
  }

  /**
   * New tokens for a connection whose tokens of generation `seen` are (nearly) expired or refused.
   * Exactly one process refreshes (the lease); it saves the new tokens before they are used; the
   * others wait until the generation changes and read them.
   */
  function refreshTokens(connectionId: string, seen: number): Promise<StoredTokens> {
    const inFlight = refreshing.get(connectionId);
    if (inFlight) return inFlight;
    const p = refreshUnderLease(connectionId, seen).finally(() => refreshing.delete(connectionId));
    refreshing.set(connectionId, p);
    return p;
  }

  async function refreshUnderLease(connectionId: string, seen: number): Promise<StoredTokens> {
    const deadline = Date.now() + 2 * refreshLeaseMs + 5_000;
    for (;;) {
      let stored = await currentTokens(connectionId);
      if (stored.generation !== seen) return stored;
      const owner = `${instance}:${randomUUID()}`;
      if (await tokens.acquireRefreshLease(connectionId, owner, refreshLeaseMs, Date.now())) {
        // Someone may have saved between our read and our lease.
        stored = await currentTokens(connectionId).catch(async (err) => {
          await tokens.releaseRefreshLease(connectionId, owner);
          throw err;
        });
        if (stored.generation !== seen) {
          await tokens.releaseRefreshLease(connectionId, owner);
          return stored;
        }
        return refreshAsOwner(connectionId, owner, stored);
      }
      if (Date.now() > deadline) {
        throw new ConstantContactError('network_error', `timed out waiting for another process to refresh the tokens of connection ${connectionId}`, true, 1_000);
      }
      await sleep(refreshPollMs);
    }
  }

  async function refreshAsOwner(connectionId: string, owner: string, stored: StoredTokens): Promise<StoredTokens> {
    const refreshToken = stored.tokens.refreshToken;
    if (!refreshToken) {
      await tokens.releaseRefreshLease(connectionId, owner);
      // Without offline_access there is no refresh token: the access token works until it expires.
      if (expiresAtOf(stored.tokens) > now() + 10_000) return stored;
      return needsReauthorization(connectionId, stored.generation, 'its access token expired and there is no refresh token');
    }
    let fresh: TokenSet;
    try {
      fresh = await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken }, 'refresh', stored.tokens);
    } catch (err) {
      if (err instanceof ConstantContactError && err.code === 'needs_reauthorization') {
        // Marking also frees the lease; when newer tokens were saved meanwhile, use those instead.
        if (!(await tokens.markNeedsReauthorization(connectionId, stored.generation))) {
          await tokens.releaseRefreshLease(connectionId, owner);
          return currentTokens(connectionId);
        }
        logger.warn({ connectionId }, 'connection needs re-authorization: the refresh token was refused (invalid_grant)');
        throw new ConstantContactError('needs_reauthorization', `connection ${connectionId} needs a new Constant Contact authorization: the refresh token was refused (invalid_grant)`, false, undefined, err.status);
      }
      await tokens.releaseRefreshLease(connectionId, owner);
      throw err;
    }
    // Persist before use: if this fails, nobody ever uses the new tokens.
    const generation = await tokens.saveRefreshed(connectionId, owner, fresh);
    if (generation === undefined) {
      logger.warn({ connectionId }, 'refresh lease lost before the refreshed tokens were saved');
      throw new ConstantContactError('network_error', `the refresh lease of connection ${connectionId} expired before the new tokens were saved`, true, 1_000);
    }
    logger.info({ connectionId, generation }, 'refreshed Constant Contact tokens');
    return { tokens: fresh, generation, status: 'connected' };
  }

  async function needsReauthorization(connectionId: string, generation: number, why: string): Promise<never> {
    const marked = await tokens.markNeedsReauthorization(connectionId, generation);
    if (marked) logger.warn({ connectionId }, `connection needs re-authorization: ${why}`);
    else {
      // Newer tokens were saved meanwhile (a new authorization): let the caller try again with them.
      const current = await tokens.read(connectionId);
      if (current && current.status === 'connected' && current.generation !== generation) {
        throw new ConstantContactError('network_error', `the tokens of connection ${connectionId} changed during the call; try again`, true, 0);
      }
    }
    throw new ConstantContactError('needs_reauthorization', `connection ${connectionId} needs a new Constant Contact authorization: ${why}`, false, undefined, 401);
  }

  // -------------------------------------------------------------- /v3 calls

  function apiUrl(pathOrHref: string, query?: Record<string, string>): URL {
    // `_links` are relative to the API host (`/v3/...`); our own paths are relative to the base URL.
    const url = pathOrHref.startsWith('/') ? new URL(pathOrHref, apiOrigin) : new URL(pathOrHref, apiBase);
    if (url.origin !== apiOrigin) {
      throw new ConstantContactError('invalid_response', 'a paging link points outside the Constant Contact API', false);
    }
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    return url;
  }

  async function call<T>(
    connectionId: string,
    what: string,
    method: 'GET' | 'POST',
    url: URL,
    schema: z.ZodType<T>,
    body?: string,
  ): Promise<T> {
    const ctx: ErrorContext = { what: `Constant Contact ${method} ${what}`, connectionId };
    let stored = await usableTokens(connectionId);
    for (let attempt = 0; ; attempt++) {
      await pace(apiKey, apiLimits);
      const headers: Record<string, string> = { authorization: `Bearer ${stored.tokens.accessToken}`, accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const answer = await send(ctx, url, { method, headers, body });
      if (answer.status === 401) {
        if (attempt === 0) {
          stored = await refreshTokens(connectionId, stored.generation);
          continue;
        }
        return needsReauthorization(connectionId, stored.generation, 'Constant Contact refused the refreshed access token (401)');
      }
      if (answer.status >= 200 && answer.status < 300) return parseBody(ctx, answer, schema);
      throw errorFromResponse(ctx, answer.status, answer.headers, answer.text, Date.now());
    }
  }

  const toList = (l: z.infer<typeof listSchema>): ContactList => ({ listId: l.list_id, name: l.name, memberCount: l.membership_count ?? 0 });

  async function allPages<P extends { _links?: { next?: { href: string } | null } | null }, I>(
    connectionId: string,
    what: string,
    first: URL,
    schema: z.ZodType<P>,
    items: (page: P) => I[],
  ): Promise<I[]> {
    const out: I[] = [];
    let url: URL | undefined = first;
    for (let i = 0; url && i < MAX_PAGES; i++) {
      const page: P = await call(connectionId, what, 'GET', url, schema);
      out.push(...items(page));
      const next = page._links?.next?.href;
      url = next ? apiUrl(next) : undefined;
    }
    return out;
  }

  const api: ConstantContactClient = {
    authorizeUrl({ state, codeChallenge }) {
      const url = new URL(`${authBase}/authorize`);
      url.search = new URLSearchParams({
        client_id: config.clientId,
        redirect_uri: config.redirectUri,
        response_type: 'code',
        scope: SCOPE,
        state,
        code_challenge: codeChallenge,
        code_challenge_method: 'S256',
      }).toString();
      return url.toString();
    },

    exchangeCode({ code, codeVerifier }) {
      return tokenRequest(
        { grant_type: 'authorization_code', code, redirect_uri: config.redirectUri, code_verifier: codeVerifier },
        'exchange',
      );
    },

    async getList(connectionId, listId) {
      const l = await call(
        connectionId,
        '/contact_lists/{list_id}',
        'GET',
        apiUrl(`contact_lists/${encodeURIComponent(listId)}`, { include_membership_count: 'all' }),
        listSchema,
      );
      return toList(l);
    },

    listLists(connectionId) {
      return allPages(
        connectionId,
        '/contact_lists',
        apiUrl('contact_lists', { limit: '1000', include_count: 'true', include_membership_count: 'all' }),
        listsPageSchema,
        (p) => p.lists.map(toList),
      );
    },

    listCustomFields(connectionId) {
      return allPages(
        connectionId,
        '/contact_custom_fields',
        apiUrl('contact_custom_fields', { limit: '100' }),
        customFieldsPageSchema,
        (p) => p.custom_fields.map((f): CustomField => ({ customFieldId: f.custom_field_id, name: f.name, label: f.label, type: f.type })),
      );
    },

    async importContacts(connectionId, body) {
      const bytes = Buffer.byteLength(body);
      if (bytes >= config.maxImportBytes) {
        // Constant Contact would import the first part and drop the rest without a word.
        throw new ConstantContactError('bad_request', `an import body of ${bytes} bytes is over the limit of ${config.maxImportBytes}`, false);
      }
      const a = await call(connectionId, '/activities/contacts_json_import', 'POST', apiUrl('activities/contacts_json_import'), createdActivitySchema, body);
      return { activityId: a.activity_id };
    },

    async getActivity(connectionId, activityId) {
      const a = await call(connectionId, '/activities/{activity_id}', 'GET', apiUrl(`activities/${encodeURIComponent(activityId)}`), activitySchema);
      return activityStatus(a);
    },

    async removeListMemberships(connectionId, { contactIds, listIds }) {
      if (contactIds.length < 1 || contactIds.length > 500) throw new ConstantContactError('bad_request', 'remove list memberships takes 1 to 500 contact ids', false);
      if (listIds.length < 1 || listIds.length > 50) throw new ConstantContactError('bad_request', 'remove list memberships takes 1 to 50 list ids', false);
      const body = JSON.stringify({ source: { contact_ids: contactIds }, list_ids: listIds });
      const a = await call(connectionId, '/activities/remove_list_memberships', 'POST', apiUrl('activities/remove_list_memberships'), createdActivitySchema, body);
      return { activityId: a.activity_id };
    },

    async pageListMembers(connectionId, { listId, next }): Promise<ContactsPage> {
      const url = next ? apiUrl(next) : apiUrl('contacts', { lists: listId, limit: '500', status: 'all' });
      const page = await call(connectionId, '/contacts', 'GET', url, contactsPageSchema);
      const href = page._links?.next?.href;
      return {
        members: page.contacts.map((c) => ({ contactId: c.contact_id, email: c.email_address?.address ?? '' })),
        next: href ? apiUrl(href).toString() : null,
      };
    },

    async startContactExport(connectionId, { listIds }) {
      if (listIds.length < 1 || listIds.length > 50) throw new ConstantContactError('bad_request', 'a contact export takes 1 to 50 list ids', false);
      const body = JSON.stringify({ list_ids: listIds, fields: CONTACT_EXPORT_FIELDS });
      const a = await call(connectionId, '/activities/contact_exports', 'POST', apiUrl('activities/contact_exports'), createdActivitySchema, body);
      return { activityId: a.activity_id };
    },

    async getContactExport(connectionId, activityId): Promise<ContactExportStatus> {
      const a = await call(connectionId, '/activities/{activity_id}', 'GET', apiUrl(`activities/${encodeURIComponent(activityId)}`), contactExportSchema);
      return { ...activityStatus(a), resultsHref: a._links?.results?.href ?? null };
    },

    async readContactExport(connectionId, resultsHref, onMembers) {
      const url = apiUrl(resultsHref);
      const ctx: ErrorContext = { what: 'Constant Contact GET /contact_exports/{id}', connectionId };
      let stored = await usableTokens(connectionId);
      for (let attempt = 0; ; attempt++) {
        await pace(apiKey, apiLimits);
        let res: Awaited<ReturnType<typeof request>>;
        try {
          res = await request(url, {
            method: 'GET',
            headers: { authorization: `Bearer ${stored.tokens.accessToken}`, accept: 'text/csv' },
            dispatcher: agent,
          });
        } catch (err) {
          throw networkError(ctx, err);
        }
        if (res.statusCode === 401) {
          await res.body.dump();
          if (attempt === 0) {
            stored = await refreshTokens(connectionId, stored.generation);
            continue;
          }
          return needsReauthorization(connectionId, stored.generation, 'Constant Contact refused the refreshed access token (401)');
        }
        if (res.statusCode < 200 || res.statusCode >= 300) {
          const text = await res.body.text().catch(() => '');
          throw errorFromResponse(ctx, res.statusCode, res.headers, text, Date.now());
        }
        try {
          return await readMembersCsv(res.body, onMembers);
        } catch (err) {
          if (err instanceof ConstantContactError) throw err;
          throw networkError(ctx, err);
        }
      }
    },

    async close() {
      await agent.close();
    },
  };
  return api;
}

/**
 * Reads a contact export's CSV (header row first) into batches of members. The contact id and
 * email columns are found by name, in the spellings seen in exports (`contact_id`, `Contact ID`,
 * `email`, `email_address`, `Email address`); rows without a contact id are skipped.
 */
export async function readMembersCsv(
  body: AsyncIterable<Buffer | string>,
  onMembers: (members: ListMember[]) => Promise<void>,
): Promise<{ rows: number }> {
  const parser = new CsvParser();
  const norm = (s: string) => s.trim().toLowerCase().replace(/[\s_-]+/g, '');
  let idCol = -1;
  let emailCol = -1;
  let header = true;
  let rows = 0;
  let batch: ListMember[] = [];
  const take = async (records: CsvRecord[]) => {
    for (const r of records) {
      if (header) {
        header = false;
        const names = r.fields.map(norm);
        idCol = names.findIndex((n) => n === 'contactid' || n === 'id');
        emailCol = names.findIndex((n) => n === 'email' || n === 'emailaddress');
        if (idCol < 0 || emailCol < 0) {
          throw new ConstantContactError('invalid_response', 'the contact export file has no contact id or email column', false);
        }
        continue;
      }
      const contactId = (r.fields[idCol] ?? '').trim();
      if (r.error || !contactId) continue;
      batch.push({ contactId, email: r.fields[emailCol] ?? '' });
      rows++;
      if (batch.length >= EXPORT_BATCH) {
        const full = batch;
        batch = [];
        await onMembers(full);
      }
    }
  };
  for await (const chunk of body) await take(parser.push(chunk));
  await take(parser.end());
  if (header) throw new ConstantContactError('invalid_response', 'the contact export file is empty (no header row)', false);
  if (batch.length) await onMembers(batch);
  return { rows };
}