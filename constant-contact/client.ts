import type { z } from 'zod';
import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { RateLimitRepository } from '../store/rate-limits';
import type { TokenRepository } from '../store/tokens';
import { createAuth, UNAUTHORIZED } from './auth';
import { errorFromResponse, networkError, type ErrorContext } from './errors';
import { readMembersCsv } from './members-csv';
import { createPacer } from './pacing';
import {
  accountSummarySchema,
  activitiesPageSchema,
  activityStatus,
  contactExportSchema,
  contactsPageSchema,
  createdActivitySchema,
  activitySchema,
  customFieldsPageSchema,
  listSchema,
  listsPageSchema,
  toList,
} from './schemas';
import { createTransport, parseBody, type Timeouts } from './transport';
import {
  type ConstantContactApi,
  ConstantContactError,
  type ConstantContactObserver,
  type ContactExportStatus,
  type ContactsPage,
  type CustomField,
} from './types';

export { createPkcePair, pkceChallenge, type PkcePair } from './pkce';
export { jwtExpiresAt } from './auth';
export { readMembersCsv } from './members-csv';

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
  timeouts?: Timeouts;
  /** Told of every request, rate-limit wait and connection that needs re-authorization (metrics, events). */
  observer?: ConstantContactObserver;
}

/** The API plus the lifecycle of the client's connection pool. */
export interface ConstantContactClient extends ConstantContactApi {
  close(): Promise<void>;
}

/** account_read: to learn which account a connection was authorized for (GET /account/summary). */
const SCOPE = 'contact_data offline_access account_read';
const MAX_PAGES = 10_000;
/** The columns a contact export is asked for: documented names only (the file carries no contact id). */
const CONTACT_EXPORT_FIELDS = ['email_address'];
/** GET /activities answers at most this many activities a page. */
const MAX_ACTIVITIES_PAGE = 500;

/**
 * The Constant Contact V3 client: the endpoints the runs use, each call paced within the shared
 * rate limit (pacing.ts), authorized with a usable token (auth.ts) and its failures classified as
 * typed ConstantContactErrors (errors.ts).
 */
export function createConstantContactClient(deps: ConstantContactClientDeps): ConstantContactClient {
  const { config, tokens, rateLimits, logger } = deps;
  const apiBase = new URL(config.apiBaseUrl.replace(/\/$/, '') + '/');
  const apiOrigin = apiBase.origin;
  const authBase = config.authBaseUrl.replace(/\/$/, '');
  const apiLimits = { perSecond: config.ratePerSecond, perDay: config.ratePerDay };
  const apiKey = config.clientId;
  const observer = deps.observer ?? {};
  const pace = createPacer(rateLimits);
  const transport = createTransport(logger, deps.timeouts, observer);
  const auth = createAuth({
    config,
    observer,
    tokens,
    logger,
    pace,
    transport,
    now: () => (deps.clock ? deps.clock().getTime() : Date.now()),
    refreshMarginMs: deps.refreshMarginMs ?? 5 * 60_000,
    refreshLeaseMs: deps.refreshLeaseMs ?? 60_000,
    refreshPollMs: deps.refreshPollMs ?? 100,
  });

  function apiUrl(pathOrHref: string, query?: Record<string, string>): URL {
    // `_links` are relative to the API host (`/v3/...`); our own paths are relative to the base URL.
    const url = pathOrHref.startsWith('/') ? new URL(pathOrHref, apiOrigin) : new URL(pathOrHref, apiBase);
    if (url.origin !== apiOrigin) {
      throw new ConstantContactError('invalid_response', 'a paging link points outside the Constant Contact API', false);
    }
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
    return url;
  }

  /** One JSON call: paced, authorized, its answer checked against `schema`. */
  /** Waits for the call's slot in the shared rate limit, and says how long it waited and what is left today. */
  async function paced(connectionId: string): Promise<void> {
    const p = await pace(apiKey, apiLimits);
    observer.paced?.({ connectionId, ...p });
  }

  function call<T>(connectionId: string, what: string, method: 'GET' | 'POST', url: URL, schema: z.ZodType<T>, body?: string): Promise<T> {
    const ctx: ErrorContext = { what: `Constant Contact ${method} ${what}`, endpoint: `${method} ${what}`, connectionId };
    return auth.authorized(connectionId, async (accessToken) => {
      await paced(connectionId);
      const headers: Record<string, string> = { authorization: `Bearer ${accessToken}`, accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const answer = await transport.send(ctx, url, { method, headers, body });
      if (answer.status === 401) return UNAUTHORIZED;
      if (answer.status >= 200 && answer.status < 300) return parseBody(ctx, answer, schema);
      throw errorFromResponse(ctx, answer.status, answer.headers, answer.text, Date.now());
    });
  }

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
      return auth.tokenRequest(
        { grant_type: 'authorization_code', code, redirect_uri: config.redirectUri, code_verifier: codeVerifier },
        'exchange',
      );
    },

    async accountId(tokens) {
      // Fresh tokens of an authorization not saved yet: they are used as they are, never refreshed.
      const ctx: ErrorContext = { what: 'Constant Contact GET /account/summary' };
      await pace(apiKey, apiLimits);
      const answer = await transport.send(ctx, apiUrl('account/summary'), {
        method: 'GET',
        headers: { authorization: `Bearer ${tokens.accessToken}`, accept: 'application/json' },
      });
      if (answer.status >= 200 && answer.status < 300) return parseBody(ctx, answer, accountSummarySchema).encoded_account_id;
      throw errorFromResponse(ctx, answer.status, answer.headers, answer.text, Date.now());
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

    async listActivities(connectionId, input = {}) {
      const limit = input.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ACTIVITIES_PAGE) {
        throw new ConstantContactError('bad_request', `list activities takes a limit of 1 to ${MAX_ACTIVITIES_PAGE}`, false);
      }
      const url = apiUrl('activities', { limit: String(limit), ...(input.state ? { state: input.state } : {}) });
      const items = (p: z.infer<typeof activitiesPageSchema>) => p.activities.map(activityStatus);
      if (input.allPages) return allPages(connectionId, '/activities', url, activitiesPageSchema, items);
      return items(await call(connectionId, '/activities', 'GET', url, activitiesPageSchema));
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

    async findContactIdsByEmail(connectionId, emails) {
      const found = new Map<string, string>();
      const wanted = new Set(emails.map((e) => e.trim().toLowerCase()).filter(Boolean));
      for (const email of wanted) {
        const url = apiUrl('contacts', { email, status: 'all' });
        const page = await call(connectionId, '/contacts', 'GET', url, contactsPageSchema);
        const match = page.contacts.find((c) => c.email_address?.address.trim().toLowerCase() === email);
        if (match) found.set(email, match.contact_id);
      }
      return found;
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

    readContactExport(connectionId, resultsHref, onMembers) {
      const url = apiUrl(resultsHref);
      const ctx: ErrorContext = { what: 'Constant Contact GET /contact_exports/{id}', endpoint: 'GET /contact_exports/{id}', connectionId };
      return auth.authorized(connectionId, async (accessToken) => {
        await paced(connectionId);
        const res = await transport.open(ctx, url, { authorization: `Bearer ${accessToken}`, accept: 'text/csv' });
        if (res.statusCode === 401) {
          await res.body.dump();
          return UNAUTHORIZED;
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
      });
    },

    async close() {
      await transport.close();
    },
  };
  return api;
}
