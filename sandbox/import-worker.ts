import { parentPort } from 'node:worker_threads';
import { type ImportRules, type ImportVerdict, packPersons, type PackedPersons, parseImportBody } from './import-body';

/**
 * The import thread (started by import-thread.ts): parses and validates contacts_json_import bodies
 * off the sandbox's main thread, one at a time, in the order they come. For each it posts the
 * verdict first (the request can be answered) and then the packed contacts.
 */

export interface ImportTask {
  id: number;
  body: Uint8Array;
  rules: ImportRules;
  /** The least time a body takes here (ms), as a slower parse would: the thread is held, not idle. */
  minParseMs: number;
}

export type ImportReply = { id: number; verdict: ImportVerdict } | { id: number; persons: PackedPersons } | { id: number; error: string };

const post = (reply: ImportReply) => parentPort!.postMessage(reply);

/** Blocks this thread for `ms`, as work on it would. */
function holdThread(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

parentPort!.on('message', ({ id, body, rules, minParseMs }: ImportTask) => {
  try {
    const started = performance.now();
    const { verdict, persons } = parseImportBody(Buffer.from(body.buffer, body.byteOffset, body.byteLength), rules);
    holdThread(minParseMs - (performance.now() - started));
    post({ id, verdict });
    post({ id, persons: packPersons(persons) });
  } catch (err) {
    post({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
