import path from 'node:path';
import type { Config, DatabaseTimeouts } from '../common/config';
import type { Logger } from '../common/logger';
import { resolveSecretsKey, SecretBox } from '../common/secrets';
import { APPLICATION_NAME, type Db, openPostgres, openSqlite, type PostgresAddress, SqliteDb } from './db';
import { inlineJobs, postgresJobs, type JobRunner } from './jobs';
import { LeaseRepository } from './leases';
import { migrate } from './migrations';
import { threadJobs } from './offload';
import { threadImports } from './import-offload';
import { inlineImports, type ImportRunner } from './profile-import';
import { WalCheckpointer } from './checkpoints';
import { ProfileRepository } from './profiles';
import { SegmentRepository } from './segments';
import { SnapshotRepository } from './snapshots';
import { ConnectionRepository } from './connections';
import { TokenRepository } from './tokens';
import { ExportRepository } from './exports';
import { RunRepository } from './runs';
import { LedgerRepository } from './ledger';
import { RateLimitRepository } from './rate-limits';
import { SettingsRepository } from './settings';
import { ConsoleSessionRepository } from './console-sessions';
import { EventRepository } from './events';
import { WebhookRepository } from './webhooks';
import { AlertRepository } from './alerts';
import { AuditRepository } from './audit';
import { PersonalDataRepository } from './personal-data';

/**
 * The store: one interface over SQLite (embedded default) and PostgreSQL (DATABASE_URL), each
 * repository written once against the Db seam. Both pass the same test suite.
 */
export class Store {
  readonly profiles: ProfileRepository;
  readonly segments: SegmentRepository;
  readonly snapshots: SnapshotRepository;
  readonly connections: ConnectionRepository;
  readonly tokens: TokenRepository;
  readonly exports: ExportRepository;
  readonly runs: RunRepository;
  readonly ledger: LedgerRepository;
  readonly rateLimits: RateLimitRepository;
  readonly settings: SettingsRepository;
  readonly consoleSessions: ConsoleSessionRepository;
  readonly events: EventRepository;
  readonly webhooks: WebhookRepository;
  readonly alerts: AlertRepository;
  readonly audit: AuditRepository;
  readonly personalData: PersonalDataRepository;
  readonly leases: LeaseRepository;
  /** Runs the long operations (store/jobs.ts): in a worker thread on a SQLite file, on a pool of their own on PostgreSQL, here otherwise. */
  readonly jobs: JobRunner;
  /** Runs profile imports: in a worker thread (SQLite file, PostgreSQL), here on an in-memory database. */
  readonly imports: ImportRunner;
  private readonly checkpointer: WalCheckpointer | undefined;

  /** `postgres`: where the database is, for the store's threads (without it, imports run here). */
  constructor(readonly db: Db, secrets: SecretBox, options: { walCheckpoints?: WalCheckpoints; postgres?: PostgresAddress } = {}) {
    const sqliteFile = db instanceof SqliteDb && db.file !== ':memory:' ? db : undefined;
    this.jobs = sqliteFile ? threadJobs(sqliteFile.file) : options.postgres ? postgresJobs(options.postgres) : inlineJobs(db);
    this.checkpointer = sqliteFile && options.walCheckpoints === 'worker-thread' ? new WalCheckpointer(sqliteFile, this.jobs) : undefined;
    this.profiles = new ProfileRepository(db);
    const importThread = sqliteFile ? { sqliteFile: sqliteFile.file } : options.postgres && { postgres: options.postgres };
    this.imports = importThread ? threadImports(importThread) : inlineImports(this.profiles);
    this.segments = new SegmentRepository(db, this.jobs);
    this.snapshots = new SnapshotRepository(db);
    this.connections = new ConnectionRepository(db, secrets);
    this.tokens = new TokenRepository(db, secrets);
    this.exports = new ExportRepository(db);
    this.runs = new RunRepository(db);
    this.ledger = new LedgerRepository(db);
    this.rateLimits = new RateLimitRepository(db);
    this.settings = new SettingsRepository(db);
    this.consoleSessions = new ConsoleSessionRepository(db);
    this.events = new EventRepository(db);
    this.webhooks = new WebhookRepository(db, secrets);
    this.alerts = new AlertRepository(db);
    this.audit = new AuditRepository(db);
    this.personalData = new PersonalDataRepository(db);
    this.leases = new LeaseRepository(db);
  }

  /** For /readyz: true when the database answers within `timeoutMs`. */
  async ping(timeoutMs = 2000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const answer = this.db.get('SELECT 1 AS ok').then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([answer, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.checkpointer?.close();
    await this.imports.close();
    await this.jobs.close();
    await this.db.close();
  }
}

/**
 * Where a SQLite file's write-ahead log is copied into the database: `in-commits` (SQLite's own
 * way: by the commit that finds the log past 1,000 pages) or `worker-thread` (store/checkpoints.ts:
 * never on this process's event loop, for the API; it costs a thread).
 */
export type WalCheckpoints = 'in-commits' | 'worker-thread';

export interface OpenStoreOptions {
  /** SQLite file only (default `in-commits`). */
  walCheckpoints?: WalCheckpoints;
  /** postgres://… ; absent means SQLite at `sqliteFile`. */
  databaseUrl?: string;
  sqliteFile?: string;
  /** PostgreSQL schema (tests isolate themselves in one). */
  schema?: string;
  secretsKey: string;
  /** PostgreSQL timeouts (defaults in openPostgres). */
  timeouts?: DatabaseTimeouts;
  logger?: Logger;
  /** The process (`api`, `worker`), named in PostgreSQL's `pg_stat_activity` with what its connections are for. */
  processName?: string;
  /** PostgreSQL: nice levels the sessions of this process's pool run below the others' (the worker's `WORKER_NICE`; store/session-priority.ts). */
  sessionNice?: number;
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const applicationName = options.processName ? `${APPLICATION_NAME} ${options.processName}` : APPLICATION_NAME;
  const postgres = options.databaseUrl ? { url: options.databaseUrl, schema: options.schema, timeouts: options.timeouts, applicationName } : undefined;
  const db = postgres
    ? openPostgres(postgres.url, {
        ...postgres,
        sessionNice: options.sessionNice,
        onPoolError: (error) => options.logger?.warn({ err: error }, 'PostgreSQL: a pooled connection failed; the next query reconnects'),
      })
    : openSqlite(options.sqliteFile ?? ':memory:');
  await migrate(db);
  return new Store(db, new SecretBox(options.secretsKey), { walCheckpoints: options.walCheckpoints, postgres });
}

export function storeOptionsFromConfig(config: Config, secretsKey: string): OpenStoreOptions {
  return {
    databaseUrl: config.databaseUrl,
    sqliteFile: path.join(config.dataDir, 'segment-export.db'),
    secretsKey,
    timeouts: config.database,
  };
}

/** The store of a process: the configured database, with SECRETS_KEY (generated once in development). */
export function openConfiguredStore(config: Config, logger?: Logger, options: Pick<OpenStoreOptions, 'walCheckpoints' | 'processName' | 'sessionNice'> = {}): Promise<Store> {
  return openStore({ ...storeOptionsFromConfig(config, resolveSecretsKey(config)), logger, ...options });
}

export type { Db } from './db';
export * from './types';
