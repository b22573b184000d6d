import { parentPort, workerData } from 'node:worker_threads';
import { APPLICATION_NAME, openPostgres, openSqlite } from './db';
import type { ImportReply, ImportRequest, ImportThreadStore } from './import-offload';
import { toJobError } from './offload';
import { streamInto } from './profile-import';
import { ProfileRepository } from './profiles';
import { BACKGROUND_NICE, runInBackground } from './thread-script';

// The thread of store/import-offload.ts: its own connection to the caller's store, one import at a
// time. On SQLite it may wait for the write lock by blocking (this thread does nothing else); on
// PostgreSQL a failed idle connection is replaced by the next query, and a failed query fails the
// import, which the caller is told.

/**
 * An import writes each page about once: a page cache of SQLite's usual 2 MB serves it as fast as
 * better-sqlite3's 16 MB (`npm run bench -- import`), and the API's process does not carry 14 MB more.
 */
const IMPORT_CACHE_KIB = 2000;

runInBackground();
const port = parentPort!;
const where = workerData as ImportThreadStore;
const db = 'sqliteFile' in where ? openSqlite(where.sqliteFile, { lockWait: 'block', cacheKib: IMPORT_CACHE_KIB }) : openPostgres(where.postgres.url, { ...where.postgres, max: 2, applicationName: `${where.postgres.applicationName ?? APPLICATION_NAME} import`, sessionNice: BACKGROUND_NICE });
const profiles = new ProfileRepository(db);
const reply = (r: ImportReply) => port.postMessage(r);

/** The chunks of the import under way, as the caller sends them; each one taken is acknowledged. */
class ChunkFeed implements AsyncIterable<string> {
  now = new Date().toISOString();
  private readonly chunks: string[] = [];
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  push(text: string, now: string): void {
    this.chunks.push(text);
    this.now = now;
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  abort(message: string): void {
    this.failure = new Error(`the import was aborted: ${message}`);
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<string> {
    for (;;) {
      if (this.failure) throw this.failure;
      const chunk = this.chunks.shift();
      if (chunk !== undefined) {
        reply({ taken: true });
        yield chunk;
      } else if (this.ended) return;
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

let feed: ChunkFeed | undefined;
let running: Promise<void> = Promise.resolve();

port.on('message', (message: ImportRequest | 'close') => {
  if (message === 'close') {
    void running.then(async () => {
      await db.close();
      port.close();
    });
    return;
  }
  switch (message.op) {
    case 'start': {
      const current = new ChunkFeed();
      feed = current;
      running = streamInto(current, message.format, profiles, { ...message.options, clock: () => new Date(current.now) }).then(
        (result) => reply({ result }),
        (err: unknown) => reply({ error: toJobError(err) }),
      );
      break;
    }
    case 'chunk':
      feed?.push(message.text, message.now);
      break;
    case 'end':
      feed?.end();
      break;
    case 'abort':
      feed?.abort(message.message);
      break;
  }
});
