import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { threadScript } from './thread-script';

/**
 * A consistent read of a SQLite file in a worker thread (store/read-view-thread.ts): one read
 * transaction on a connection of the thread's own, so that a long query (a run's snapshot sorts a
 * million rows before its first row) never holds up the event loop of the process, and its rows
 * come here a batch at a time while this process's connection writes and commits.
 */

export type ReadViewRequest = { op: 'get'; sql: string; params: readonly unknown[] } | { op: 'open'; sql: string; params: readonly unknown[]; size: number } | { op: 'next' } | { op: 'close' };
export type ReadViewReply = { row: unknown } | { rows: unknown[]; done: boolean } | { error: { message: string; code?: string } };

export class ReadViewThread {
  private readonly worker: Worker;
  private readonly waiting: { resolve(reply: ReadViewReply): void; reject(err: Error): void }[] = [];
  private failure: Error | undefined;

  constructor(file: string) {
    // A small heap: the thread holds one batch of rows at a time (and the one it reads ahead).
    this.worker = new Worker(threadScript('read-view-thread'), { workerData: { file }, resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 256 } });
    this.worker.on('message', (reply: ReadViewReply) => this.waiting.shift()?.resolve(reply));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the read view's thread exited with code ${code}`)));
  }

  async get<T>(sql: string, params: readonly unknown[]): Promise<T | undefined> {
    return ((await this.ask({ op: 'get', sql, params })) as { row: T | undefined }).row;
  }

  /** The query's rows, `size` at a time; the thread reads the next batch while this one is used. */
  async *batches<T>(sql: string, params: readonly unknown[], size: number): AsyncGenerator<T[]> {
    let next = this.ask({ op: 'open', sql, params, size });
    for (;;) {
      const { rows, done } = (await next) as { rows: T[]; done: boolean };
      if (!done) {
        next = this.ask({ op: 'next' });
        next.catch(() => undefined); // read ahead: unused when the caller stops early
      }
      if (rows.length > 0) yield rows;
      if (done) return;
    }
  }

  /** Ends the read transaction and the thread (also while a batch is still being read). */
  async close(): Promise<void> {
    if (this.failure) return;
    const exited = once(this.worker, 'exit');
    this.worker.postMessage({ op: 'close' } satisfies ReadViewRequest);
    await exited;
  }

  private ask(request: ReadViewRequest): Promise<ReadViewReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<ReadViewReply>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.worker.postMessage(request);
    }).then((reply) => {
      if ('error' in reply) throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
      return reply;
    });
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.splice(0)) w.reject(err);
  }
}
