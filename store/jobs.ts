import { APPLICATION_NAME, openPostgres, SqliteDb, type Db, type PostgresAddress } from './db';
import { BACKGROUND_NICE } from './thread-script';
import { deleteSegment, refreshSegment, updateSegment, type SegmentPatch } from './segments';

/**
 * The store's long operations: work that grows with the number of profiles. They are written
 * once against the Db seam and run by a JobRunner: on a SQLite file, in a worker thread with its
 * own connection (store/offload.ts), so that the event loop of the API or the worker never waits
 * for them; on PostgreSQL (already asynchronous) and in-memory SQLite, where they are called.
 * Arguments and results are plain data: they cross between threads.
 */
export const jobs = {
  refreshSegment: (db: Db, a: { id: string; refreshedAt: string }) => refreshSegment(db, a.id, a.refreshedAt),
  updateSegment: (db: Db, a: { id: string; patch: SegmentPatch; now: string }) => updateSegment(db, a.id, a.patch, a.now),
  deleteSegment: (db: Db, a: { id: string }) => deleteSegment(db, a.id),
  /** Copies the write-ahead log into the database file as far as readers allow (store/checkpoints.ts). */
  checkpoint: async (db: Db, _a: Record<string, never>) => {
    if (db instanceof SqliteDb) db.raw.pragma('wal_checkpoint(PASSIVE)');
  },
};

export type Jobs = typeof jobs;
export type JobName = keyof Jobs;
export type JobArgs<K extends JobName> = Parameters<Jobs[K]>[1];
export type JobResult<K extends JobName> = Awaited<ReturnType<Jobs[K]>>;

export interface JobRunner {
  run<K extends JobName>(name: K, args: JobArgs<K>): Promise<JobResult<K>>;
  close(): Promise<void>;
}

/** Runs each job on the given connection, in this thread. */
export function inlineJobs(db: Db): JobRunner {
  return {
    run: (name, args) => (jobs[name] as (db: Db, args: unknown) => Promise<never>)(db, args),
    close: async () => undefined,
  };
}

/**
 * Runs each job on a small pool of its own (PostgreSQL): a refresh neither takes the connections
 * the process's requests use nor, where the database shares this machine, their cores (its
 * backends' sessions run BACKGROUND_NICE lower, as the store's threads do).
 */
export function postgresJobs(address: PostgresAddress): JobRunner {
  const db = openPostgres(address.url, { ...address, max: 2, applicationName: `${address.applicationName ?? APPLICATION_NAME} jobs`, sessionNice: BACKGROUND_NICE });
  return { run: inlineJobs(db).run, close: () => db.close() };
}
