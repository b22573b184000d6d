/**
 * Options of the Constant Contact sandbox. Defaults are the real service's limits (4 requests a
 * second and 10,000 a day per key, 40,000 contacts and 4 MB per import).
 */
export interface SandboxOptions {
  /** OAuth client id of the one application the sandbox knows (its "application key"). */
  clientId: string;
  clientSecret: string;
  /** Per application key: requests to /v3 accepted per rolling second. */
  ratePerSecond: number;
  /** Per application key: requests to /v3 accepted per UTC day. */
  ratePerDay: number;
  /**
   * Token endpoint limit (it does not count against the /v3 limits above: on the real service it is a
   * different host with its own limit of "about 1 per second"). Modelled as a token bucket refilled
   * at this rate per second; 0 switches the limit off.
   */
  tokenRatePerSecond: number;
  /** Capacity of the token endpoint bucket: how many token requests may arrive at once. */
  tokenBurst: number;
  accessTokenTtlSeconds: number;
  /** true: each refresh invalidates every earlier refresh token of the grant; false: long-lived. */
  rotatingRefreshTokens: boolean;
  /** Refresh tokens expire after this many days without use. */
  refreshTokenIdleDays: number;
  /** Authorization codes live this long (single use). */
  authCodeTtlSeconds: number;
  /**
   * How long an activity takes from creation to completed, per contact. Activities of the account run
   * one after another (a queue); each takes max(importMinMs, contacts * importMsPerContact).
   * 0: an activity is completed at the first request that follows it.
   */
  importMsPerContact: number;
  importMinMs: number;
  /**
   * The least time the import thread spends on each contacts_json_import body (ms), holding the
   * thread as a slower parse would. 0 (the default): as long as the parse takes. Tests raise it to
   * make the time a body is being parsed long enough to observe.
   */
  importParseMinMs: number;
  /** Non-terminal activities allowed at once; beyond, every bulk POST answers 429. */
  maxQueuedActivities: number;
  maxImportContacts: number;
  /** Import bodies larger than this keep only the items that fit entirely in the first maxImportBytes. */
  maxImportBytes: number;
  /** Largest import body read at all (413 beyond). */
  maxBodyBytes: number;
  /** Maximum number of custom fields in the account. */
  maxCustomFields: number;
  /** Clock (ms since epoch); tests inject a fake one. */
  now: () => number;
  /** Random source for fault injection. */
  random: () => number;
}

/** The sandbox account's `encoded_account_id` (GET /v3/account/summary). */
export const DEFAULT_ACCOUNT_ID = 'a07esandbox001';
export const DEFAULT_LIST_ID = '00000000-0000-4000-8000-000000000001';
export const DEFAULT_LIST_NAME = 'Sandbox list';

export const defaultOptions: SandboxOptions = {
  clientId: 'sandbox-client',
  clientSecret: 'sandbox-secret',
  ratePerSecond: 4,
  ratePerDay: 10_000,
  tokenRatePerSecond: 1,
  tokenBurst: 10,
  accessTokenTtlSeconds: 86_400,
  rotatingRefreshTokens: true,
  refreshTokenIdleDays: 180,
  authCodeTtlSeconds: 300,
  importMsPerContact: 0.01,
  importMinMs: 100,
  importParseMinMs: 0,
  maxQueuedActivities: 1000,
  maxImportContacts: 40_000,
  maxImportBytes: 4 * 1024 * 1024,
  maxBodyBytes: 64 * 1024 * 1024,
  maxCustomFields: 100,
  now: () => Date.now(),
  random: () => Math.random(),
};

export function resolveOptions(options: Partial<SandboxOptions> = {}): SandboxOptions {
  const resolved = { ...defaultOptions };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) (resolved as unknown as Record<string, unknown>)[key] = value;
  }
  return resolved;
}
