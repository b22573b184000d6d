import { StringDecoder } from 'node:string_decoder';
import { Worker } from 'node:worker_threads';
import { fromJobError, type JobError } from './offload';
import { CsvHeaderError, type ImportFormat, type ImportOptions, type ImportResult, type ImportRunner } from './profile-import';
import type { PostgresAddress } from './db';
import { closeThread, threadScript } from './thread-script';

/**
 * Profile imports parsed and written in a worker thread of the store (store/import-thread.ts) with
 * its own connection, at a lower priority: the event loop that receives the body only decodes its
 * chunks and passes the text on. A million records are seconds of parsing, and on SQLite of
 * synchronous writes, that would otherwise share the event loop with every other request (on
 * PostgreSQL the parsing and the encoding of each COPY).
 *
 * Backpressure: at most CHUNKS_AHEAD chunks wait in the thread; the body is read no faster than the
 * thread takes them. The thread starts with the first import and stays (idle, not keeping the
 * process alive) for the next; imports run one after the other.
 */

/**
 * The thread's heap, bounded: with V8's defaults `npm run bench -- import` measured the API's peak
 * 12–24 MB higher, at no gain in time; a young generation of 4 MB or less measured slower. An
 * import holds a batch and a few chunks: the old generation's bound is far above what it needs.
 */
const THREAD_HEAP = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 256 };

/** How the thread opens its own connection to the caller's store. */
export type ImportThreadStore = { sqliteFile: string } | { postgres: PostgresAddress };

/** Chunks sent and not yet taken by the thread (the body's chunks are 16 to 64 KiB). */
const CHUNKS_AHEAD = 4;

export type ImportRequest =
  | { op: 'start'; format: ImportFormat; options: Omit<ImportOptions, 'clock'> }
  /** `now`: the caller's clock when the chunk came; the rows written from it carry that time. */
  | { op: 'chunk'; text: string; now: string }
  | { op: 'end' }
  | { op: 'abort'; message: string };

export type ImportReply = { taken: true } | { result: ImportResult } | { error: JobError };

export function threadImports(where: ImportThreadStore): ImportRunner {
  let thread: ImportThread | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  return {
    run(source, format, options) {
      const turn = queue.then(() => {
        if (!thread || thread.dead) thread = new ImportThread(where);
        return thread.run(source, format, options);
      });
      queue = turn.catch(() => undefined);
      return turn;
    },
    async close() {
      await queue;
      await thread?.close();
      thread = undefined;
    },
  };
}

class ImportThread {
  dead = false;
  private readonly worker: Worker;
  private current: { taken(): void; settle(reply: Exclude<ImportReply, { taken: true }>): void; fail(err: Error): void } | undefined;

  constructor(where: ImportThreadStore) {
    this.worker = new Worker(threadScript('import-thread'), { workerData: where, resourceLimits: THREAD_HEAP });
    this.worker.unref();
    this.worker.on('message', (reply: ImportReply) => ('taken' in reply ? this.current?.taken() : this.current?.settle(reply)));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the store's import thread exited with code ${code}`)));
  }

  async run(source: AsyncIterable<Buffer | string>, format: ImportFormat, options: ImportOptions): Promise<ImportResult> {
    const clock = options.clock ?? (() => new Date());
    let ahead = 0;
    let wake: (() => void) | undefined;
    let over = false;
    const outcome = new Promise<ImportResult>((resolve, reject) => {
      const end = () => {
        over = true;
        this.current = undefined;
        this.worker.unref();
        wake?.();
      };
      this.current = {
        taken: () => {
          ahead--;
          wake?.();
        },
        settle: (reply) => {
          end();
          if ('result' in reply) resolve(reply.result);
          else reject(reply.error.code === 'invalid_csv_header' ? new CsvHeaderError(reply.error.message) : fromJobError(reply.error));
        },
        fail: (err) => {
          end();
          reject(err);
        },
      };
    });
    outcome.catch(() => undefined); // awaited below; a failure while the body is still read ends the loop first
    this.worker.ref();
    const { clock: _clock, ...plain } = options;
    // The thread gets text: bytes would reach it as buffers that only its full collections free
    // (up to 33 MB of a 1M-profile body measured waiting); a string is copied into the message,
    // whose memory goes as soon as the thread has read it, and the body's buffers stay here, where
    // the young generation collects them.
    const utf8 = new StringDecoder('utf8');
    this.post({ op: 'start', format, options: plain });
    try {
      for await (const chunk of source) {
        while (ahead >= CHUNKS_AHEAD && !over) await new Promise<void>((resolve) => (wake = resolve));
        if (over) break; // the thread failed (a bad CSV header, the store): the rest of the body is not read
        ahead++;
        this.post({ op: 'chunk', text: typeof chunk === 'string' ? chunk : utf8.write(chunk), now: clock().toISOString() });
      }
      const rest = utf8.end(); // an incomplete last character, decoded as U+FFFD
      if (rest && !over) {
        ahead++;
        this.post({ op: 'chunk', text: rest, now: clock().toISOString() });
      }
      this.post({ op: 'end' });
    } catch (err) {
      // The body failed (the client went away): the thread stops after the batch it is writing.
      this.post({ op: 'abort', message: err instanceof Error ? err.message : String(err) });
      await outcome.catch(() => undefined);
      throw err;
    }
    return outcome;
  }

  async close(): Promise<void> {
    if (!this.dead) await closeThread(this.worker);
  }

  private post(request: ImportRequest): void {
    if (!this.dead) this.worker.postMessage(request);
  }

  private fail(err: Error): void {
    this.dead = true;
    this.current?.fail(err);
  }
}
