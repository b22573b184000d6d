import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { DatabaseTimeouts } from '../common/config';
import { DomainError } from '../common/errors';
import { from as copyFrom } from 'pg-copy-streams';
import { ReadViewThread } from './read-view';
import { lowerBackendSession } from './session-priority';
import { SharedReads } from './shared-reads';

/**
 * The one SQL seam both stores share. SQL is written with `?` placeholders; the PostgreSQL side
 * numbers them ($1, $2, …). Values are always parameters, never spliced into SQL text.
 * Where the dialects differ (JSON access, upserts of JSON), callers branch on `dialect`.
 */
export type Dialect = 'sqlite' | 'postgres';
export type Row = Record<string, unknown>;

/** A JSON column's value: PostgreSQL's JSONB arrives parsed, SQLite's TEXT as a string. */
export const jsonColumn = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;

export interface Db {
  readonly dialect: Dialect;
  all<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  get<T = Row>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  run(sql: string, params?: readonly unknown[]): Promise<{ changes: number }>;
  /**
   * A read polled by many clients at once: identical calls may share one statement, each still
   * getting rows read after it asked (store/shared-reads.ts). The rows must not be changed.
   */
  allShared<T = Row>(sql: string, params?: readonly unknown[]): Promise<readonly T[]>;
  /** Runs fn in one transaction; nested calls join the outer one. */
  tx<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  /**
   * Runs fn over one consistent read-only view of the database, on a connection of its own, while
   * writes go on through this one and commit as they go (a run's snapshot is read this way and
   * written in batches that its uploads read at once).
   */
  readView<T>(fn: (view: ReadView) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Each store offers the one way to copy out of its view that it does best. */
export interface ReadView {
  /** One row of a query in the view. */
  get<T = Row>(sql: string, params: readonly unknown[]): Promise<T | undefined>;
  /** SQLite: the rows of one query in the view, `size` at a time, without holding them all. */
  batches?<T = Row>(sql: string, params: readonly unknown[], size: number): AsyncGenerator<T[]>;
  /** PostgreSQL: `fn` in a transaction of its own whose reads see the view; it commits on its own. */
  writeInView?<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
}

export function toPgPlaceholders(sql: string): string {
  let n = 0;
  // `?` inside quoted literals is not a placeholder; our SQL never has one there except `?|`/`?&`
  // jsonb operators, which we do not use.
  return sql.replace(/\?/g, () => `$${++n}`);
}

// ---------------------------------------------------------------- SQLite

/**
 * How long a write waits for another connection's write lock before it fails with `store_busy`
 * (503): long enough for a refresh or a run's snapshot over a million profiles on a busy machine.
 */
const LOCK_WAIT_MS = 60_000;

const storeBusy = () => new DomainError('unavailable', 'store_busy', 'the store is busy with a long write; try again in a moment');

export interface SqliteOptions {
  /**
   * How a write waits while another connection (a worker thread, another process) holds the write
   * lock. `event-loop` (the default): SQLite answers SQLITE_BUSY at once and the write is retried
   * on a timer, so the thread goes on serving requests meanwhile. `block`: SQLite's own busy
   * handler sleeps in the call, for a thread that does nothing else (store/offload-thread.ts).
   */
  lockWait?: 'event-loop' | 'block';
  /** How long a write waits for the lock before it fails with `store_busy` (default 60 s). */
  lockWaitMs?: number;
  /** The connection's page cache in KiB (default 16,000, better-sqlite3's): each connection has its own. */
  cacheKib?: number;
}

export function openSqlite(file: string, options: SqliteOptions = {}): Db {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const raw = new Database(file);
  // First: processes opening a new file together wait for each other's locks (the switch to WAL too).
  raw.pragma('busy_timeout = 10000');
  raw.pragma('journal_mode = WAL');
  raw.pragma('synchronous = NORMAL');
  const lockWaitMs = options.lockWaitMs ?? LOCK_WAIT_MS;
  raw.pragma(`busy_timeout = ${options.lockWait === 'block' ? lockWaitMs : 0}`);
  raw.pragma('foreign_keys = ON');
  if (options.cacheKib !== undefined) raw.pragma(`cache_size = -${Math.max(1, Math.floor(options.cacheKib))}`);
  return new SqliteDb(raw, file, options.lockWait ?? 'event-loop', lockWaitMs);
}

export const sqliteValue = (v: unknown) => (typeof v === 'boolean' ? (v ? 1 : 0) : v === undefined ? null : v);
const isBusy = (err: unknown) => String((err as { code?: unknown }).code ?? '').startsWith('SQLITE_BUSY');
const STATEMENT_CACHE = 256;

export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  /** better-sqlite3 is one synchronous connection: transactions are serialized through this chain. */
  private txChain: Promise<unknown> = Promise.resolve();
  /**
   * The transaction open on this connection, and the async context its statements run in. A call
   * from that context is part of it; a call from any other (another request) waits for it to end:
   * on one connection, another caller's write would otherwise join the transaction, and be rolled
   * back with it after its caller was told it was done.
   */
  private openTx: object | undefined;
  private readonly txContext = new AsyncLocalStorage<object>();
  private readonly statements = new Map<string, Database.Statement>();
  /** Told after each committed write (the store's WAL checkpointer, when checkpoints are not left to commits). */
  afterCommit?: () => void;

  constructor(
    readonly raw: Database.Database,
    /** The database file (':memory:' for a private in-memory database). */
    readonly file: string,
    private readonly lockWait: 'event-loop' | 'block',
    private readonly lockWaitMs: number,
  ) {}

  async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return this.outsideTx(() => this.statement(sql).all(...params.map(sqliteValue)) as T[]);
  }

  /** A synchronous read is over before another can ask: there is nothing to share. */
  allShared<T>(sql: string, params: readonly unknown[] = []): Promise<readonly T[]> {
    return this.all<T>(sql, params);
  }

  async get<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return this.outsideTx(() => this.statement(sql).get(...params.map(sqliteValue)) as T | undefined);
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<{ changes: number }> {
    const result = await this.outsideTx(() => {
      const stmt = this.statement(sql);
      if (!stmt.reader) return { changes: stmt.run(...params.map(sqliteValue)).changes };
      stmt.all(...params.map(sqliteValue));
      return { changes: 0 };
    });
    if (!this.inOpenTx()) this.afterCommit?.();
    return result;
  }

  tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.inOpenTx()) return fn(this);
    const next = this.txChain.then(async () => {
      await this.waitingForLock(() => this.raw.exec('BEGIN IMMEDIATE'));
      const open = {};
      this.openTx = open;
      try {
        const result = await this.txContext.run(open, () => fn(this));
        this.raw.exec('COMMIT');
        this.afterCommit?.();
        return result;
      } catch (err) {
        if (this.raw.inTransaction) this.raw.exec('ROLLBACK');
        throw err;
      } finally {
        this.openTx = undefined;
      }
    });
    this.txChain = next.catch(() => undefined);
    return next;
  }

  async readView<T>(fn: (view: ReadView) => Promise<T>): Promise<T> {
    if (this.file === ':memory:') {
      // One private connection: a query's rows are read whole (consistent), then handed out.
      const batches = async function* <R>(db: SqliteDb, sql: string, params: readonly unknown[], size: number) {
        const rows = await db.all<R>(sql, params);
        for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
      };
      return fn({ get: (sql, params) => this.get(sql, params), batches: (sql, params, size) => batches(this, sql, params, size) });
    }
    // WAL: a read transaction on another connection sees the file as it was at its first read,
    // whatever this connection commits meanwhile; in a thread, its long reads block nothing here.
    const thread = new ReadViewThread(this.file);
    try {
      return await fn({ get: (sql, params) => thread.get(sql, params), batches: (sql, params, size) => thread.batches(sql, params, size) });
    } finally {
      await thread.close();
    }
  }

  async close(): Promise<void> {
    await this.txChain;
    this.raw.close();
  }

  /** Prepared once per SQL text: most statements of the store repeat. */
  private statement(sql: string): Database.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      if (this.statements.size >= STATEMENT_CACHE) this.statements.clear();
      stmt = this.raw.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  /**
   * A statement of the open transaction runs as it is (the write lock is ours). Any other waits
   * for the transaction to end, then, as an autocommit statement, for another connection's write.
   */
  private outsideTx<T>(fn: () => T): T | Promise<T> {
    if (this.inOpenTx()) return fn();
    return this.openTx ? this.afterTransactions(fn) : this.waitingForLock(fn);
  }

  private inOpenTx(): boolean {
    return this.openTx !== undefined && this.txContext.getStore() === this.openTx;
  }

  private async afterTransactions<T>(fn: () => T): Promise<T> {
    while (this.openTx) await this.txChain;
    return this.waitingForLock(fn);
  }

  /** Runs fn; while another connection holds the write lock, retries on a timer (event-loop mode). */
  private async waitingForLock<T>(fn: () => T): Promise<T> {
    const deadline = Date.now() + this.lockWaitMs;
    for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
      try {
        return fn();
      } catch (err) {
        if (!isBusy(err)) throw err;
        if (this.lockWait === 'block' || Date.now() >= deadline) throw storeBusy();
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}

// ---------------------------------------------------------------- PostgreSQL

// BIGINT and NUMERIC come back as numbers: our counts stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v));

/** Where a PostgreSQL store is: what another thread needs to open a pool of its own onto it. */
export interface PostgresAddress {
  url: string;
  schema?: string;
  timeouts?: Partial<DatabaseTimeouts>;
  /** What `pg_stat_activity` shows for its connections: which process, and what for. */
  applicationName?: string;
}

/** Timeouts default to connect 10 s, statements 300 s, idle in a transaction 60 s (DATABASE_* settings). */
export interface PostgresOptions extends Omit<PostgresAddress, 'url'> {
  max?: number;
  /** Nice levels its backends' sessions run below the others', where they can be lowered (store/session-priority.ts). */
  sessionNice?: number;
  /** Where errors of idle pooled connections are told (without secrets). */
  onPoolError?: (error: { code?: string; message: string }) => void;
}

/** The product's connections in `pg_stat_activity`, where a process says no more of itself. */
export const APPLICATION_NAME = 'segment-export';

/**
 * A pool whose connections cannot hang the process: connecting gives up, a statement is cancelled
 * by the server after its timeout, a session idle inside a transaction is ended (its locks freed),
 * and TCP keep-alive notices a peer that vanished.
 */
export function openPostgres(url: string, options: PostgresOptions = {}): Db {
  const t = { connectTimeoutMs: 10_000, statementTimeoutMs: 300_000, idleInTransactionTimeoutMs: 60_000, ...options.timeouts };
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: t.connectTimeoutMs,
    statement_timeout: t.statementTimeoutMs,
    idle_in_transaction_session_timeout: t.idleInTransactionTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: options.applicationName ?? APPLICATION_NAME,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  // An idle client's error (server restart) must not crash the process; the next query reconnects.
  pool.on('error', (err: Error & { code?: string }) => options.onPoolError?.({ code: err.code, message: withoutCredentials(err.message) }));
  const sessionNice = options.sessionNice ?? 0;
  if (sessionNice > 0) pool.on('connect', (client) => void lowerBackendSession(client, sessionNice).catch(() => undefined));
  return new PgDb(pool);
}

/** A connection URL's user and password never reach a log line. */
export const withoutCredentials = (text: string) => text.replace(/(postgres(?:ql)?:\/\/)[^@\s/]*@/gi, '$1[redacted]@');

type Queryable = pg.Pool | pg.PoolClient;

class PgDb implements Db {
  readonly dialect = 'postgres' as const;
  constructor(
    readonly pool: pg.Pool,
    private readonly client?: pg.PoolClient,
    private readonly reads = new SharedReads(),
  ) {}

  private get q(): Queryable {
    return this.client ?? this.pool;
  }

  async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return (await this.q.query(toPgPlaceholders(sql), params as unknown[])).rows as T[];
  }

  /** In a transaction a read sees its own writes: it is shared only outside one. */
  allShared<T>(sql: string, params: readonly unknown[] = []): Promise<readonly T[]> {
    if (this.client) return this.all<T>(sql, params);
    return this.reads.read(`${sql}\u0000${JSON.stringify(params)}`, () => this.all<T>(sql, params));
  }

  async get<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<{ changes: number }> {
    const r = await this.q.query(toPgPlaceholders(sql), params as unknown[]);
    return { changes: r.rowCount ?? 0 };
  }

  async tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.client) return fn(this);
    return this.transaction(['BEGIN'], fn);
  }

  /** fn in a transaction of a pooled connection of its own, begun by the `setup` statements. */
  private async transaction<T>(setup: readonly string[], fn: (db: PgDb) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A checked-out client that the server ends (idle-in-transaction timeout, restart) emits
    // 'error'; without a listener that would crash the process. The query in flight fails anyway.
    let lost: Error | undefined;
    const onError = (err: Error) => (lost = err);
    client.on('error', onError);
    try {
      for (const statement of setup) await client.query(statement);
      const result = await fn(new PgDb(this.pool, client, this.reads));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.off('error', onError);
      // A lost client is destroyed, not given back to the pool.
      client.release(lost);
    }
  }


  /**
   * The view is a read-only REPEATABLE READ transaction whose snapshot is exported: statements
   * run in it (`get`), and writers that import the same snapshot (`writeInView`) each read exactly
   * that view and commit on their own, so their rows are seen while the others still work.
   */
  async readView<T>(fn: (view: ReadView) => Promise<T>): Promise<T> {
    return this.transaction(['BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'], async (view) => {
      const exported = await view.get<{ id: string }>('SELECT pg_export_snapshot() AS id');
      const id = String(exported?.id);
      if (!/^[0-9A-F-]+$/i.test(id)) throw new Error(`unexpected snapshot id ${id}`);
      return fn({
        get: (sql, params) => view.get(sql, params),
        writeInView: (write) =>
          this.transaction(
            [
              'BEGIN ISOLATION LEVEL REPEATABLE READ',
              `SET TRANSACTION SNAPSHOT '${id}'`,
              // One big sort: in memory rather than in temporary files; no JIT for a plan that runs once.
              `SET LOCAL work_mem = '64MB'`,
              'SET LOCAL jit = off',
            ],
            write,
          ),
      });
    });
  }

  /** COPY … FROM STDIN of the given text chunks, on this transaction's connection, honouring the socket's backpressure. */
  async copyIn(sql: string, chunks: Iterable<string>): Promise<void> {
    if (!this.client) throw new Error('COPY runs inside a transaction');
    const stream = this.client.query(copyFrom(sql));
    const done = new Promise<void>((resolve, reject) => {
      stream.once('finish', resolve);
      stream.once('error', reject);
    });
    for (const chunk of chunks) {
      if (!stream.write(chunk)) await Promise.race([new Promise((resolve) => stream.once('drain', resolve)), done]);
    }
    stream.end();
    await done;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** COPY text format of rows of text fields: tab-separated lines, backslash, tab, LF and CR escaped, in chunks of about 64 KiB. */
export function* copyText(rows: Iterable<readonly string[]>): Generator<string> {
  const escape = (v: string) => (/[\\\t\n\r]/.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]) : v);
  let text = '';
  for (const row of rows) {
    text += `${row.map(escape).join('\t')}\n`;
    if (text.length >= 64 * 1024) {
      yield text;
      text = '';
    }
  }
  if (text) yield text;
}

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Rows per multi-row INSERT: well within SQLite's and PostgreSQL's limits on parameters. */
export const MAX_ROWS_PER_INSERT = 500;

/** Multi-row INSERTs of at most MAX_ROWS_PER_INSERT rows each; `values` gives a row's values in column order. */
export async function insertRows<T>(tx: Db, into: string, onConflict: string, items: readonly T[], values: (item: T, index: number) => unknown[]): Promise<void> {
  for (let i = 0; i < items.length; i += MAX_ROWS_PER_INSERT) {
    const part = items.slice(i, i + MAX_ROWS_PER_INSERT);
    const params: unknown[] = [];
    let row = '';
    part.forEach((item, j) => {
      const v = values(item, i + j);
      params.push(...v);
      if (!row) row = `(${v.map(() => '?').join(', ')})`;
    });
    await tx.run(`INSERT INTO ${into} VALUES ${part.map(() => row).join(', ')} ${onConflict}`, params);
  }
}

/** PostgreSQL only: COPY … FROM STDIN inside a transaction (profile imports, a chunk's deliveries). */
export function copyIn(db: Db, sql: string, chunks: Iterable<string>): Promise<void> {
  if (!(db instanceof PgDb)) throw new Error('COPY is a PostgreSQL statement');
  return db.copyIn(sql, chunks);
}
