import path from 'node:path';
import { z } from 'zod';

/**
 * Configuration for every process (API, worker, sandbox, scripts), parsed once from the environment.
 * A bad value stops the process with a message naming the variable, never echoing its value
 * (values such as SECRETS_KEY and API_KEYS are secrets).
 */

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const apiKeys = z
  .string()
  .transform((raw, ctx) => {
    const keys: ApiKey[] = [];
    for (const entry of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
      const i = entry.indexOf(':');
      const role = entry.slice(0, i);
      const key = entry.slice(i + 1);
      if (i < 1 || (role !== 'admin' && role !== 'contributor') || key.length < 16) {
        ctx.addIssue({ code: 'custom', message: 'each entry must be role:key with role admin or contributor and a key of at least 16 characters' });
        return z.NEVER;
      }
      keys.push({ role, key });
    }
    return keys;
  });

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().min(1).default('.data'),
  DATABASE_URL: z.string().regex(/^(postgres|postgresql):\/\//, 'must be a postgres:// URL').optional(),
  PORT: port.default(3000),
  PUBLIC_BASE_URL: z.url().optional(),
  API_KEYS: apiKeys.optional(),
  SECRETS_KEY: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex characters (32 bytes)').optional(),

  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('segment-export'),
  TEMPORAL_UI_URL: z.url().default('http://127.0.0.1:8233'),

  CC_API_BASE_URL: z.url().optional(),
  CC_AUTH_BASE_URL: z.url().optional(),
  CC_CLIENT_ID: z.string().min(1).optional(),
  CC_CLIENT_SECRET: z.string().min(1).optional(),
  CC_REDIRECT_URI: z.url().optional(),
  CC_RATE_PER_SECOND: positiveInt.default(4),
  CC_RATE_PER_DAY: positiveInt.default(10000),
  CC_MAX_CONTACTS_PER_IMPORT: positiveInt.max(40000).default(40000),
  CC_MAX_IMPORT_BYTES: positiveInt.max(4 * 1024 * 1024).default(4 * 1024 * 1024 - 64 * 1024),
  CC_SANDBOX_PORT: port.default(4010),
  CC_SANDBOX: bool.optional(),

  EXPORT_MAX_PROFILES: positiveInt.default(1_000_000),
  SNAPSHOT_PAGE_SIZE: positiveInt.default(40_000),
  /** Mirror mode: how long a run waits for an admin to approve removals over maxRemovalPercent. */
  REMOVAL_APPROVAL_TIMEOUT_SECONDS: positiveInt.default(86_400),
  /** A run step that Constant Contact keeps answering with 5xx or resets for this long fails the run (constant_contact_unavailable). */
  CC_UNAVAILABLE_AFTER_SECONDS: positiveInt.max(3600).default(1800),
  /** How often a worker looks for running runs whose workflow closed without ending them. */
  RUN_RECONCILE_INTERVAL_SECONDS: positiveInt.default(30),

  /** The console's sign-in: how long a session cookie lasts (absolute, from sign-in). */
  CONSOLE_SESSION_TTL_SECONDS: positiveInt.default(8 * 3600),
  /** Behind a TLS-terminating proxy: believe its X-Forwarded-Proto (and -For) headers. */
  TRUST_PROXY: bool.default(false),
  /** Nice levels a worker lowers its own priority by: its batch work yields a shared core to the API's requests. */
  WORKER_NICE: z.coerce.number().int().min(0).max(19).default(10),
  /** host:port where a worker serves Prometheus metrics (the Temporal SDK's and the product's); unset: none. */
  WORKER_METRICS_ADDRESS: z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[\w.-]+):\d{1,5}$/, 'must be host:port').optional(),
  /** A Bearer token that may read the API's /metrics besides an admin key (for Prometheus). */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Webhooks may be delivered to loopback, private and link-local addresses (development and tests only). */
  WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  /** The first wait before a failed webhook delivery is tried again; it doubles up to an hour, for up to 24 hours. */
  WEBHOOK_RETRY_INITIAL_SECONDS: z.coerce.number().positive().max(3600).default(10),
  /** Alert when rejected + suppressed profiles are more than this percentage of the segment. */
  ALERT_REJECTED_PERCENT: z.coerce.number().min(0).max(100).default(50),
  /** Alert when a run takes longer than this. */
  ALERT_RUN_DURATION_MINUTES: positiveInt.default(120),
  /** Alert when the segment's size changed by more than this percentage since the last successful run. */
  ALERT_SEGMENT_CHANGE_PERCENT: z.coerce.number().min(0).default(50),
  // What a client may hold of the API (api/listener.ts, api/body-watchdog.ts, api/rate-limit.ts).
  API_HEADERS_TIMEOUT_SECONDS: positiveInt.default(10),
  API_REQUEST_TIMEOUT_SECONDS: positiveInt.default(30),
  API_STREAM_MIN_BYTES: positiveInt.default(64 * 1024),
  API_STREAM_WINDOW_SECONDS: positiveInt.default(30),
  API_STREAM_TIMEOUT_SECONDS: positiveInt.default(3600),
  API_KEEP_ALIVE_TIMEOUT_SECONDS: positiveInt.default(5),
  API_IDLE_TIMEOUT_SECONDS: positiveInt.default(120),
  API_MAX_CONNECTIONS: positiveInt.default(256),
  API_RATE_LIMIT_PER_SECOND: positiveInt.default(20),
  API_RATE_LIMIT_BURST: positiveInt.default(100),

  // PostgreSQL (store/db.ts).
  DATABASE_CONNECT_TIMEOUT_SECONDS: positiveInt.default(10),
  DATABASE_STATEMENT_TIMEOUT_SECONDS: positiveInt.default(300),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS: positiveInt.default(60),

  /** Rejects (profile ids with the raw value that was not sent) are deleted this long after their run ended. */
  PERSONAL_DATA_RETENTION_DAYS: positiveInt.default(30),
});

export type ApiKey = { role: 'admin' | 'contributor'; key: string };

export type Config = Readonly<{
  env: 'development' | 'production' | 'test';
  logLevel: string;
  dataDir: string;
  databaseUrl?: string;
  port: number;
  publicBaseUrl: string;
  apiKeys?: readonly ApiKey[];
  secretsKey?: string;
  temporal: Readonly<{ address: string; namespace: string; taskQueue: string; uiUrl: string }>;
  constantContact: Readonly<{
    /** true when no real Constant Contact is configured: the local sandbox stands in for it. */
    sandbox: boolean;
    apiBaseUrl: string;
    authBaseUrl: string;
    clientId: string;
    clientSecret: string;
    redirectUri: string;
    ratePerSecond: number;
    ratePerDay: number;
    maxContactsPerImport: number;
    maxImportBytes: number;
    sandboxPort: number;
  }>;
  exports: Readonly<{ maxProfiles: number; snapshotPageSize: number; removalApprovalTimeoutMs: number }>;
  runs: Readonly<{ constantContactUnavailableAfterMs: number; reconcileIntervalMs: number }>;
  console: Readonly<{ sessionTtlSeconds: number }>;
  trustProxy: boolean;
  metrics: Readonly<{ workerAddress?: string; token?: string }>;
  /** How many nice levels below its start a worker process runs (0: as started). */
  workerNice: number;
  webhooks: Readonly<{ allowPrivate: boolean; retryInitialMs: number }>;
  /** Defaults of every export's alerts (an export may override them). */
  alerts: AlertThresholds;
  api: ApiLimits;
  database: DatabaseTimeouts;
  personalDataRetentionDays: number;
}>;

export type AlertThresholds = Readonly<{ rejectedPercent: number; runDurationMinutes: number; segmentChangePercent: number }>;

/** What one client may hold of the API; every duration in milliseconds. */
export type ApiLimits = Readonly<{
  /** Node's headersTimeout: all headers within this. */
  headersTimeoutMs: number;
  /** The whole request (headers and body) of every route that does not stream its body. */
  requestTimeoutMs: number;
  /** Routes that stream their body: at least streamMinBytes in every streamWindowMs spent waiting for the client... */
  streamMinBytes: number;
  streamWindowMs: number;
  /** ...and the whole body within this (Node's requestTimeout, the backstop of every request). */
  streamTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** A socket on which nothing moves while the API waits for the client. */
  idleTimeoutMs: number;
  maxConnections: number;
  /** Requests per second per credential (a token bucket of `rateLimitBurst`), per API process. */
  rateLimitPerSecond: number;
  rateLimitBurst: number;
}>;

export type DatabaseTimeouts = Readonly<{ connectTimeoutMs: number; statementTimeoutMs: number; idleInTransactionTimeoutMs: number }>;

export class ConfigError extends Error {}

export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const realCc = Boolean(e.CC_CLIENT_ID && e.CC_CLIENT_SECRET) && e.CC_SANDBOX !== true;
  const sandboxBase = `http://127.0.0.1:${e.CC_SANDBOX_PORT}`;
  const publicBaseUrl = (e.PUBLIC_BASE_URL ?? `http://127.0.0.1:${e.PORT}`).replace(/\/$/, '');
  if (realCc && (!e.CC_REDIRECT_URI && !e.PUBLIC_BASE_URL)) {
    throw new ConfigError('invalid configuration:\n  CC_REDIRECT_URI: required with a real Constant Contact (or set PUBLIC_BASE_URL)');
  }
  return deepFreeze({
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    dataDir: path.resolve(e.DATA_DIR),
    databaseUrl: e.DATABASE_URL,
    port: e.PORT,
    publicBaseUrl,
    apiKeys: e.API_KEYS,
    secretsKey: e.SECRETS_KEY,
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      uiUrl: e.TEMPORAL_UI_URL.replace(/\/$/, ''),
    },
    constantContact: {
      sandbox: !realCc,
      apiBaseUrl: (e.CC_API_BASE_URL ?? (realCc ? 'https://api.cc.email/v3' : `${sandboxBase}/v3`)).replace(/\/$/, ''),
      authBaseUrl: (e.CC_AUTH_BASE_URL ??
        (realCc ? 'https://authz.constantcontact.com/oauth2/default/v1' : `${sandboxBase}/oauth2/default/v1`)).replace(/\/$/, ''),
      clientId: realCc ? e.CC_CLIENT_ID! : (e.CC_CLIENT_ID ?? 'sandbox-client'),
      clientSecret: realCc ? e.CC_CLIENT_SECRET! : (e.CC_CLIENT_SECRET ?? 'sandbox-secret'),
      redirectUri: e.CC_REDIRECT_URI ?? `${publicBaseUrl}/v1/oauth/constant-contact/callback`,
      ratePerSecond: e.CC_RATE_PER_SECOND,
      ratePerDay: e.CC_RATE_PER_DAY,
      maxContactsPerImport: e.CC_MAX_CONTACTS_PER_IMPORT,
      maxImportBytes: e.CC_MAX_IMPORT_BYTES,
      sandboxPort: e.CC_SANDBOX_PORT,
    },
    exports: {
      maxProfiles: e.EXPORT_MAX_PROFILES,
      snapshotPageSize: e.SNAPSHOT_PAGE_SIZE,
      removalApprovalTimeoutMs: e.REMOVAL_APPROVAL_TIMEOUT_SECONDS * 1000,
    },
    runs: {
      constantContactUnavailableAfterMs: e.CC_UNAVAILABLE_AFTER_SECONDS * 1000,
      reconcileIntervalMs: e.RUN_RECONCILE_INTERVAL_SECONDS * 1000,
    },
    console: { sessionTtlSeconds: e.CONSOLE_SESSION_TTL_SECONDS },
    trustProxy: e.TRUST_PROXY,
    metrics: { workerAddress: e.WORKER_METRICS_ADDRESS, token: e.METRICS_TOKEN },
    workerNice: e.WORKER_NICE,
    webhooks: { allowPrivate: e.WEBHOOK_ALLOW_PRIVATE, retryInitialMs: Math.round(e.WEBHOOK_RETRY_INITIAL_SECONDS * 1000) },
    alerts: {
      rejectedPercent: e.ALERT_REJECTED_PERCENT,
      runDurationMinutes: e.ALERT_RUN_DURATION_MINUTES,
      segmentChangePercent: e.ALERT_SEGMENT_CHANGE_PERCENT,
    },
    api: {
      headersTimeoutMs: e.API_HEADERS_TIMEOUT_SECONDS * 1000,
      requestTimeoutMs: e.API_REQUEST_TIMEOUT_SECONDS * 1000,
      streamMinBytes: e.API_STREAM_MIN_BYTES,
      streamWindowMs: e.API_STREAM_WINDOW_SECONDS * 1000,
      streamTimeoutMs: e.API_STREAM_TIMEOUT_SECONDS * 1000,
      keepAliveTimeoutMs: e.API_KEEP_ALIVE_TIMEOUT_SECONDS * 1000,
      idleTimeoutMs: e.API_IDLE_TIMEOUT_SECONDS * 1000,
      maxConnections: e.API_MAX_CONNECTIONS,
      rateLimitPerSecond: e.API_RATE_LIMIT_PER_SECOND,
      rateLimitBurst: e.API_RATE_LIMIT_BURST,
    },
    database: {
      connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_SECONDS * 1000,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_SECONDS * 1000,
      idleInTransactionTimeoutMs: e.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS * 1000,
    },
    personalDataRetentionDays: e.PERSONAL_DATA_RETENTION_DAYS,
  });
}

/** For process entry points: parse, or print the problem and exit. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
