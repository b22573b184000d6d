import { Worker } from 'node:worker_threads';
import { DomainError, type DomainErrorKind } from '../common/errors';
import { closeThread, threadScript } from './thread-script';
import type { JobArgs, JobName, JobResult, JobRunner } from './jobs';

/**
 * Runs the store's long jobs (store/jobs.ts) in a worker thread with its own connection to the
 * SQLite file. SQLite in WAL mode lets that connection write while the process's own connection
 * reads; the process's writes wait for it on a timer (store/db.ts), never blocking its event loop.
 * The thread starts with the first job and does not keep the process alive while idle.
 */

export interface JobRequest {
  id: number;
  name: JobName;
  args: unknown;
}
export type JobReply = { id: number; result: unknown } | { id: number; error: JobError };

/** An error as it crosses back from the thread: a DomainError keeps its kind, code and details. */
export interface JobError {
  name: string;
  message: string;
  code?: string;
  kind?: DomainErrorKind;
  details?: unknown[];
}

export function toJobError(err: unknown): JobError {
  const e = err instanceof Error ? err : new Error(String(err));
  return err instanceof DomainError
    ? { name: e.name, message: e.message, code: err.code, kind: err.kind, details: err.details }
    : { name: e.name, message: e.message, code: (e as { code?: string }).code };
}

export function fromJobError(e: JobError): Error {
  if (e.kind && e.code) return new DomainError(e.kind, e.code, e.message, e.details);
  return Object.assign(new Error(e.message), { name: e.name, code: e.code });
}


export function threadJobs(file: string): JobRunner {
  let thread: JobThread | undefined;
  return {
    run<K extends JobName>(name: K, args: JobArgs<K>): Promise<JobResult<K>> {
      if (!thread || thread.dead) thread = new JobThread(file);
      return thread.run(name, args) as Promise<JobResult<K>>;
    },
    async close() {
      await thread?.close();
      thread = undefined;
    },
  };
}

class JobThread {
  dead = false;
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 0;

  constructor(file: string) {
    this.worker = new Worker(threadScript('offload-thread'), { workerData: { file } });
    this.worker.unref();
    this.worker.on('message', (reply: JobReply) => this.settle(reply));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the store's worker thread exited with code ${code}`)));
  }

  run(name: JobName, args: unknown): Promise<unknown> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ id, name, args } satisfies JobRequest);
    });
  }

  async close(): Promise<void> {
    if (!this.dead) await closeThread(this.worker);
  }

  private settle(reply: JobReply): void {
    const waiter = this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if ('error' in reply) waiter.reject(fromJobError(reply.error));
    else waiter.resolve(reply.result);
  }

  private fail(err: Error): void {
    this.dead = true;
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }
}
