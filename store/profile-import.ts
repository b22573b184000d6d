import { setImmediate as nextTurn } from 'node:timers/promises';
import { CsvParser } from '../common/csv';
import { DomainError } from '../common/errors';
import { NdjsonSplitter } from '../common/ndjson';
import type { LeaseRepository } from './leases';
import { ProfileBatch } from './profile-batch';
import type { ProfileInput, ProfileRepository } from './profiles';
import { ANALYZE_AFTER_ROWS, storableText, UNSTORABLE } from './rules';
import type { Attributes } from './types';

export { storableText, UNSTORABLE } from './rules';

// ---------------------------------------------------------------- record validation

export const MAX_PROFILE_ID = 128;
export const MAX_ATTRIBUTE_NAME = 256;
/** Attributes per record; a CSV body may have this many columns besides `id`. */
export const MAX_ATTRIBUTES = 1000;

export type RecordCheck = { ok: true; profile: ProfileInput } | { ok: false; message: string };

/**
 * Checks one imported record (an NDJSON object or a CSV row as an object): `id` a string of 1..128
 * characters, at most MAX_ATTRIBUTES other keys, each an attribute name of 1..256 characters with
 * a string, number, boolean or null value. Nested objects and arrays make the record bad.
 */
export function checkProfileRecord(record: unknown): RecordCheck {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return { ok: false, message: 'a record must be a JSON object' };
  const { id, ...attributes } = record as Record<string, unknown>; // rest copies own data properties: a "__proto__" key stays an attribute
  if (id === undefined) return { ok: false, message: 'id is required' };
  if (typeof id !== 'string') return { ok: false, message: 'id must be a string' };
  if (id.length < 1 || id.length > MAX_PROFILE_ID) return { ok: false, message: `id must be 1 to ${MAX_PROFILE_ID} characters` };
  if (!storableText(id)) return { ok: false, message: UNSTORABLE };
  const names = Object.keys(attributes);
  if (names.length > MAX_ATTRIBUTES) return { ok: false, message: `a record has at most ${MAX_ATTRIBUTES} attributes` };
  for (const name of names) {
    const value = attributes[name];
    if (name.length < 1 || name.length > MAX_ATTRIBUTE_NAME) return { ok: false, message: `attribute names must be 1 to ${MAX_ATTRIBUTE_NAME} characters` };
    if (!storableText(name)) return { ok: false, message: UNSTORABLE };
    if (typeof value === 'string') {
      if (!storableText(value)) return { ok: false, message: UNSTORABLE };
    } else if (!(value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value)))) {
      return { ok: false, message: `attribute "${truncate(name, 64)}" must be a string, number, boolean or null (nested objects and arrays are not supported)` };
    }
  }
  return { ok: true, profile: { id, attributes: attributes as Attributes } };
}

const truncate = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…` : s);

// ---------------------------------------------------------------- streaming import

export type ImportFormat = 'ndjson' | 'csv';

export interface ImportResult {
  received: number;
  upserted: number;
  rejected: number;
  errors: { line: number; message: string }[];
}

/** The header row of a CSV import cannot be used: nothing is imported (the API answers 400). */
export class CsvHeaderError extends Error {
  readonly code = 'invalid_csv_header';
}

/** The lease that allows one import at a time per store, across processes. */
export const IMPORT_LEASE = 'profile-import';

export interface ImportOptions {
  /**
   * A batch is written once it holds this many characters of ids and JSON (default a quarter MiB,
   * about 1,400 profiles: measured against 1 MiB no slower and lower in memory).
   */
  batchChars?: number;
  /** …or this many records (default 10,000: many tiny records). */
  batchRecords?: number;
  /** How many errors the result lists (all are counted). */
  maxErrors?: number;
  clock?: () => Date;
}

/**
 * Where an import's parsing and writes run: in a worker thread of the store with its own connection
 * (store/import-offload.ts), or in the caller's thread.
 */
export interface ImportRunner {
  run(source: AsyncIterable<Buffer | string>, format: ImportFormat, options: ImportOptions): Promise<ImportResult>;
  close(): Promise<void>;
}

/** Runs each import in the caller's thread (an in-memory SQLite database has no file a thread could open). */
export function inlineImports(repo: ProfileRepository): ImportRunner {
  return {
    run: (source, format, options) => streamInto(source, format, repo, options),
    close: async () => undefined,
  };
}

/**
 * Streams records from `source` into the store, one import at a time per store (another answers
 * `import_in_progress`): source → parser → batches cut by size in bytes → one transaction each.
 * Memory stays flat whatever the body: the loop pulls the next chunk only while at most one batch
 * is being written and one is being filled, so the HTTP request is read no faster than the store
 * writes.
 *
 * Bad records are counted, the first `maxErrors` reported with their line numbers, and skipped.
 * CSV: the first record is the header and must name an `id` column; every value is a string; an
 * empty cell is no value (not stored).
 */
export async function importProfiles(
  source: AsyncIterable<Buffer | string>,
  format: ImportFormat,
  store: { imports: ImportRunner; leases: LeaseRepository },
  options: ImportOptions = {},
): Promise<ImportResult> {
  const lease = await store.leases.acquire(IMPORT_LEASE);
  if (!lease) throw new DomainError('conflict', 'import_in_progress', 'another profile import is running on this store; send this one when it has finished');
  try {
    return await store.imports.run(source, format, options);
  } finally {
    await lease.release();
  }
}

/** The import itself, in the thread that runs it. */
export async function streamInto(source: AsyncIterable<Buffer | string>, format: ImportFormat, repo: ProfileRepository, options: ImportOptions): Promise<ImportResult> {
  const batchChars = options.batchChars ?? 256 * 1024;
  const batchRecords = options.batchRecords ?? 10_000;
  const maxErrors = options.maxErrors ?? 100;
  const clock = options.clock ?? (() => new Date());
  const result: ImportResult = { received: 0, upserted: 0, rejected: 0, errors: [] };
  const reject = (line: number, message: string) => {
    result.rejected++;
    if (result.errors.length < maxErrors) result.errors.push({ line, message });
  };

  let batch = new ProfileBatch();
  let writing: Promise<void> | undefined;
  let writeError: unknown;
  const flush = async () => {
    if (writing) await writing;
    if (writeError) throw writeError;
    if (batch.size === 0) return;
    const full = batch;
    batch = new ProfileBatch();
    writing = repo.write(full, clock().toISOString()).then(
      () => {
        result.upserted += full.records;
      },
      (err: unknown) => {
        writeError = err;
      },
    );
  };
  const accept = (line: number, record: unknown) => {
    result.received++;
    const checked = checkProfileRecord(record);
    if (!checked.ok) return reject(line, checked.message);
    batch.add(checked.profile.id, checked.profile.attributes);
  };
  const bad = (line: number, message: string) => {
    result.received++;
    reject(line, message);
  };

  const consume = format === 'ndjson' ? ndjsonConsumer(accept, bad) : csvConsumer(accept, bad);
  try {
    for await (const chunk of source) {
      consume.push(chunk);
      if (batch.length >= batchChars || batch.records >= batchRecords) {
        await flush();
        // Chunks already buffered (and a SQLite write, which is synchronous) resolve as microtasks:
        // without a turn of the event loop here the import would parse and write batch after batch
        // while no other request is answered (hundreds of ms measured under load).
        await nextTurn();
      }
    }
    consume.end();
    await flush();
  } finally {
    // A failed body or a bad CSV header ends the import only once the batch in flight is written
    // (or has failed): nothing of it may land after the caller is told, or after the lease is freed.
    if (writing) await writing;
  }
  if (writeError) throw writeError;
  if (result.upserted >= ANALYZE_AFTER_ROWS) await repo.analyze();
  return result;
}

interface Consumer {
  push(chunk: Buffer | string): void;
  end(): void;
}

function ndjsonConsumer(accept: (line: number, record: unknown) => void, bad: (line: number, message: string) => void): Consumer {
  const splitter = new NdjsonSplitter();
  const take = (lines: ReturnType<NdjsonSplitter['push']>) => {
    for (const l of lines) {
      if (l.error !== undefined) {
        bad(l.line, l.error);
        continue;
      }
      let record: unknown;
      try {
        record = JSON.parse(l.text);
      } catch (err) {
        bad(l.line, `not valid JSON: ${truncate(err instanceof Error ? err.message : String(err), 160)}`);
        continue;
      }
      accept(l.line, record);
    }
  };
  return { push: (chunk) => take(splitter.push(chunk)), end: () => take(splitter.end()) };
}

function csvConsumer(accept: (line: number, record: unknown) => void, bad: (line: number, message: string) => void): Consumer {
  const parser = new CsvParser(undefined, MAX_ATTRIBUTES + 1);
  let header: string[] | undefined;
  const take = (records: ReturnType<CsvParser['push']>) => {
    for (const r of records) {
      if (!header) {
        header = checkCsvHeader(r.fields, r.error);
        continue;
      }
      if (r.error) {
        bad(r.line, r.error);
        continue;
      }
      if (r.fields.length !== header.length) {
        bad(r.line, `expected ${header.length} fields as in the header row, found ${r.fields.length}`);
        continue;
      }
      const record: Record<string, string> = {};
      for (let i = 0; i < header.length; i++) if (r.fields[i] !== '') record[header[i]] = r.fields[i];
      accept(r.line, record);
    }
  };
  return {
    push: (chunk) => take(parser.push(chunk)),
    end: () => {
      take(parser.end());
      if (!header) throw new CsvHeaderError('the CSV body is empty: the first row must be a header naming an id column');
    },
  };
}

function checkCsvHeader(fields: string[], error: string | undefined): string[] {
  if (error) throw new CsvHeaderError(`the CSV header row is not valid: ${error}`);
  const seen = new Set<string>();
  for (const name of fields) {
    if (name.length < 1 || name.length > MAX_ATTRIBUTE_NAME) throw new CsvHeaderError(`every CSV header column needs a name of 1 to ${MAX_ATTRIBUTE_NAME} characters`);
    if (!storableText(name)) throw new CsvHeaderError(`the CSV header row is not usable: ${UNSTORABLE}`);
    if (seen.has(name)) throw new CsvHeaderError(`the CSV header names the column "${truncate(name, 64)}" twice`);
    seen.add(name);
  }
  if (!seen.has('id')) throw new CsvHeaderError('the CSV header row must name an id column');
  return fields;
}
