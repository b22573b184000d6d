import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { ImportRules, ImportVerdict, PackedPersons } from './import-body';
import type { ImportReply, ImportTask } from './import-worker';

/** A body parsed by the import thread. */
export interface ParsedImport {
  verdict: ImportVerdict;
  /** The valid contacts: they follow the verdict, which is enough to answer the request. */
  persons: Promise<PackedPersons>;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

interface Pending {
  verdict: Deferred<ParsedImport>;
  persons: Deferred<PackedPersons>;
}

interface Running {
  worker: Worker;
  pending: Map<number, Pending>;
}

/**
 * The import thread seen from the main thread: one worker thread (the sandbox shares two cores with
 * the service under test), started at the first import, started again if it dies, stopped by
 * close(). It parses bodies one at a time in the order they are handed over, so their verdicts, and
 * the activities queued on them, come in that order.
 */
export class ImportThread {
  private running: Running | undefined;
  private nextId = 1;

  /** @param minParseMs the least time each body takes on the thread (see SandboxOptions.importParseMinMs). */
  constructor(private readonly minParseMs = 0) {}

  parse(body: Buffer, rules: ImportRules): Promise<ParsedImport> {
    const { worker, pending } = this.running ?? this.start();
    const id = this.nextId++;
    const p: Pending = { verdict: deferred(), persons: deferred() };
    // Whoever gets a refused verdict never waits for its (empty) persons.
    p.persons.promise.catch(() => undefined);
    pending.set(id, p);
    // A body that owns its memory moves to the thread; a slice of shared memory is copied.
    const owned = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength;
    const bytes = owned ? body : new Uint8Array(body);
    const task: ImportTask = { id, body: bytes, rules, minParseMs: this.minParseMs };
    worker.postMessage(task, owned ? [bytes.buffer as ArrayBuffer] : []);
    return p.verdict.promise;
  }

  async close(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    if (running) await running.worker.terminate();
  }

  private start(): Running {
    // Compiled (dist/): the worker's own .js file. From the TypeScript sources (jest, whose transform
    // does not reach a worker thread): scripts/run-ts.js, which compiles .ts on require.
    const worker = __filename.endsWith('.ts')
      ? new Worker(path.join(__dirname, '..', 'scripts', 'run-ts.js'), { argv: [path.join(__dirname, 'import-worker.ts')] })
      : new Worker(path.join(__dirname, 'import-worker.js'));
    worker.unref();
    const running: Running = { worker, pending: new Map() };
    worker.on('message', (reply: ImportReply) => {
      const p = running.pending.get(reply.id);
      if (!p) return;
      if ('verdict' in reply) return p.verdict.resolve({ verdict: reply.verdict, persons: p.persons.promise });
      running.pending.delete(reply.id);
      if ('persons' in reply) return p.persons.resolve(reply.persons);
      const err = new Error(`the import thread failed: ${reply.error}`);
      p.verdict.reject(err);
      p.persons.reject(err);
    });
    const fail = (err: Error) => {
      if (this.running === running) this.running = undefined;
      for (const p of running.pending.values()) {
        p.verdict.reject(err);
        p.persons.reject(err);
      }
      running.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the import thread stopped (exit code ${code})`)));
    this.running = running;
    return running;
  }
}
