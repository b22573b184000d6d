import { parentPort, workerData } from 'node:worker_threads';
import { runInBackground } from './thread-script';
import Database from 'better-sqlite3';
import { SqliteDb, sqliteValue } from './db';
import type { ReadViewReply, ReadViewRequest } from './read-view';
import { ensureSqliteFunctions } from './rules';

// The thread of store/read-view.ts: one read-only connection, one read transaction (begun with the
// first statement: WAL keeps that view whatever other connections commit), requests in order.

runInBackground();
const port = parentPort!;
const raw = new Database((workerData as { file: string }).file, { readonly: true });
ensureSqliteFunctions(new SqliteDb(raw, raw.name, 'block', 0));
raw.exec('BEGIN');
let rows: IterableIterator<unknown> | undefined;
let size = 0;

function batch(): ReadViewReply {
  const out: unknown[] = [];
  for (;;) {
    if (out.length >= size) return { rows: out, done: false };
    const next = rows!.next();
    if (next.done) {
      rows = undefined;
      return { rows: out, done: true };
    }
    out.push(next.value);
  }
}

function answer(request: Exclude<ReadViewRequest, { op: 'close' }>): ReadViewReply {
  switch (request.op) {
    case 'get':
      return { row: raw.prepare(request.sql).get(...request.params.map(sqliteValue)) };
    case 'open':
      size = Math.max(1, Math.floor(request.size));
      rows = raw.prepare(request.sql).iterate(...request.params.map(sqliteValue));
      return batch();
    case 'next':
      return rows ? batch() : { rows: [], done: true };
  }
}

port.on('message', (request: ReadViewRequest) => {
  if (request.op === 'close') {
    rows?.return?.();
    raw.close();
    port.close();
    return;
  }
  try {
    port.postMessage(answer(request));
  } catch (err) {
    const e = err as Error & { code?: string };
    port.postMessage({ error: { message: e.message, code: e.code } } satisfies ReadViewReply);
  }
});
