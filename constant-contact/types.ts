import type { TokenSet } from '../store/types';

/**
 * The contract between the Constant Contact client and its users (API routes, activities).
 * Every call names the connection whose tokens it uses; the client loads, refreshes and persists
 * tokens itself, so callers never hold one.
 */

export interface ContactList {
  listId: string;
  name: string;
  memberCount: number;
}

export interface CustomField {
  customFieldId: string;
  /** The name used in imports as `cf:<name>` (label with blanks as underscores). */
  name: string;
  label: string;
  type: string;
}

/** One contact of a bulk JSON import, already mapped and validated on our side. */
export interface ImportContact {
  email: string;
  first_name?: string;
  last_name?: string;
  /** `cf:<custom field name>` → value (string, <= 255 chars); at most 25 per contact. */
  [customField: `cf:${string}`]: string;
}

export type ActivityState = 'initialized' | 'processing' | 'completed' | 'cancelled' | 'failed' | 'timed_out';
export const terminalActivityStates: readonly ActivityState[] = ['completed', 'cancelled', 'failed', 'timed_out'];

export interface ActivityStatus {
  activityId: string;
  state: ActivityState;
  percentDone: number;
  itemsTotal: number;
  itemsCompleted: number;
  personCount: number;
  errorCount: number;
  correctableCount: number;
  cannotAddToListCount: number;
}

export interface ListMember {
  /** Known from pages of GET /contacts; a contact export file names none (null). */
  contactId: string | null;
  email: string;
}

/** A contact export activity (POST /activities/contact_exports) and, once completed, where its file is. */
export interface ContactExportStatus extends ActivityStatus {
  /** `_links.results.href` of the completed activity (relative `/v3/...`), or null before. */
  resultsHref: string | null;
}

export interface ContactsPage {
  members: ListMember[];
  /** Absolute URL of the next page, or null at the end. */
  next: string | null;
}

export interface ConstantContactApi {
  /** The browser URL for the admin to authorize (response_type=code, PKCE S256, scope contact_data offline_access). */
  authorizeUrl(input: { state: string; codeChallenge: string }): string;
  /** Exchanges an authorization code (with its PKCE verifier) for tokens; never logs them. */
  exchangeCode(input: { code: string; codeVerifier: string }): Promise<TokenSet>;
  /** The Constant Contact account the tokens belong to (GET /account/summary → encoded_account_id; scope account_read). */
  accountId(tokens: TokenSet): Promise<string>;

  getList(connectionId: string, listId: string): Promise<ContactList>;
  listLists(connectionId: string): Promise<ContactList[]>;
  listCustomFields(connectionId: string): Promise<CustomField[]>;

  /** POST /activities/contacts_json_import with a body serialized by the packer (already within limits). */
  importContacts(connectionId: string, body: string): Promise<{ activityId: string }>;
  getActivity(connectionId: string, activityId: string): Promise<ActivityStatus>;
  /**
   * GET /activities: the activities of the last 10 days, newest first, with their status counts
   * (one request settles many imports). One page of `limit` (1..500, default 50) unless
   * `allPages` follows the `next` links.
   */
  listActivities(connectionId: string, input?: { state?: ActivityState; limit?: number; allPages?: boolean }): Promise<ActivityStatus[]>;

  /** POST /activities/remove_list_memberships for <= 500 contact ids. */
  removeListMemberships(connectionId: string, input: { contactIds: string[]; listIds: string[] }): Promise<{ activityId: string }>;
  /** One page (<= 500) of a list's members, with their contact ids; pass the previous page's `next` to continue. */
  pageListMembers(connectionId: string, input: { listId: string; next?: string | null }): Promise<ContactsPage>;
  /**
   * Contact ids of a few contacts by email: one GET /contacts?email= each (distinct emails only,
   * paced like every call). Keys are the lowercased emails; an email the account lacks is absent.
   */
  findContactIdsByEmail(connectionId: string, emails: string[]): Promise<Map<string, string>>;

  /** POST /activities/contact_exports of the members of up to 50 lists, asking for `email_address` only (export files carry no contact id). */
  startContactExport(connectionId: string, input: { listIds: string[] }): Promise<{ activityId: string }>;
  /** GET /activities/{id} of a contact export, with the link to its CSV file once completed. */
  getContactExport(connectionId: string, activityId: string): Promise<ContactExportStatus>;
  /**
   * GET the CSV file of a completed contact export (one call, streamed: a list of any size is never
   * held whole) and hand its members to `onMembers` in batches, `contactId` null unless the file
   * has a contact id column. `invalid_response` when the file has no email column.
   */
  readContactExport(connectionId: string, resultsHref: string, onMembers: (members: ListMember[]) => Promise<void>): Promise<{ rows: number }>;
}

/**
 * Failures are classified once, in this client (errors.ts). Callers act on `code` and `retryable`,
 * never on messages or HTTP statuses.
 */
export type ConstantContactErrorCode =
  | 'bad_request' // 400: do not resend unchanged
  | 'forbidden' // 403
  | 'not_found' // 404
  | 'conflict' // 409
  | 'unsupported_media_type' // 415
  | 'invalid_response' // a body that does not parse as documented
  | 'needs_reauthorization' // 401 after one refresh, or invalid_grant
  | 'not_connected' // the connection has no tokens
  | 'throttled' // 429 (rate or queue limit)
  | 'daily_quota_exhausted' // our own daily budget is spent: wait until 00:00 UTC
  | 'server_error' // 5xx
  | 'network_error' // reset, refused, timeout
  | 'oauth_error'; // token endpoint said no for another reason

export class ConstantContactError extends Error {
  constructor(
    readonly code: ConstantContactErrorCode,
    message: string,
    readonly retryable: boolean,
    /** How long to wait before retrying, when known (Retry-After, or the daily reset). */
    readonly retryAfterMs?: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ConstantContactError';
  }
}

/** How a request to Constant Contact ended: the class of its HTTP status, or no answer. */
export type RequestOutcome = '2xx' | '3xx' | '429' | '4xx' | '5xx' | 'network';

export const requestOutcome = (status: number | undefined): RequestOutcome =>
  status === undefined ? 'network' : status === 429 ? '429' : status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx';

/**
 * What the client reports while it works, for metrics and events; the client imports neither.
 * `endpoint` is a fixed route template (`GET /contact_lists/{list_id}`), never a URL with an id.
 * Callbacks must not throw or block.
 */
export interface ConstantContactObserver {
  request?(r: { endpoint: string; outcome: RequestOutcome; connectionId?: string }): void;
  /** A call waited `waitedMs` for its rate-limit slot; `remainingToday` requests are left in the day's budget. */
  paced?(p: { connectionId: string; waitedMs: number; remainingToday: number }): void;
  /** The client marked the connection needs-reauthorization (its tokens of `generation` stopped working). */
  needsReauthorization?(connectionId: string, generation: number): void;
}
