import { CsvParser } from '../common/csv';
import { NdjsonSplitter } from '../common/ndjson';
import type { Db } from './db';
import { forgetProfileRows } from './personal-data';
import { analyze, ANALYZE_AFTER_ROWS, storableText, UNSTORABLE } from './rules';
import type { Attributes, Profile } from './types';

export { storableText, UNSTORABLE } from './rules';

/** The largest number of rows one INSERT statement carries (SQLite: 3 parameters a row; PostgreSQL: one JSON array). */
const ROWS_PER_STATEMENT = { sqlite: 500, postgres: 5000 } as const;

export interface ProfileInput {
  id: string;
  attributes: Attributes;
}

/** A profile ready to write: its attributes as JSON object text. */
export interface StagedProfile {
  id: string;
  json: string;
}

export interface AttributeSummary {
  name: string;
  /** How many profiles have the attribute (with any value, null included). */
  profiles: number;
  /** The value types seen: string, number, boolean, null. */
  types: ('string' | 'number' | 'boolean' | 'null')[];
}

interface ProfileRow {
  id: string;
  attributes: unknown;
  updated_at: string;
}

const parseJson = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

const toProfile = (r: ProfileRow): Profile => ({ id: r.id, attributes: parseJson<Attributes>(r.attributes), updatedAt: r.updated_at });

export class ProfileRepository {
  constructor(private readonly db: Db) {}

  /**
   * Upserts a batch in one transaction: each profile's attributes replace the stored ones. Within a
   * batch the last record of an id wins. Rows are written in id order so that concurrent imports on
   * PostgreSQL lock rows in the same order (no deadlocks). Returns the number of distinct ids.
   */
  async upsertMany(profiles: readonly ProfileInput[], now: string = new Date().toISOString()): Promise<number> {
    return this.upsertJson(
      profiles.map((p) => ({ id: p.id, json: JSON.stringify(p.attributes) })),
      now,
    );
  }

  /** upsertMany with the attributes already serialized as a JSON object (what the import batches: no object graphs kept). */
  async upsertJson(profiles: readonly StagedProfile[], now: string = new Date().toISOString()): Promise<number> {
    if (profiles.length === 0) return 0;
    const byId = new Map<string, string>();
    for (const p of profiles) byId.set(p.id, p.json);
    const ids = [...byId.keys()].sort();
    if (this.db.dialect === 'postgres') {
      // One JSON array parameter per statement: far cheaper for PostgreSQL to bind and plan than
      // thousands of parameters, and unlike text[] it needs no array-literal escaping.
      await this.db.tx(async (tx) => {
        for (let i = 0; i < ids.length; i += ROWS_PER_STATEMENT.postgres) {
          const slice = ids.slice(i, i + ROWS_PER_STATEMENT.postgres);
          const rows = `[${slice.map((id) => `[${JSON.stringify(id)},${byId.get(id)}]`).join(',')}]`;
          await tx.run(
            `INSERT INTO profiles (id, attributes, updated_at)
             SELECT e ->> 0, (e -> 1)::jsonb, ? FROM json_array_elements(?::json) AS e
             ON CONFLICT (id) DO UPDATE SET attributes = excluded.attributes, updated_at = excluded.updated_at`,
            [now, rows],
          );
        }
      });
      return ids.length;
    }
    await this.db.tx(async (tx) => {
      for (let i = 0; i < ids.length; i += ROWS_PER_STATEMENT.sqlite) {
        const slice = ids.slice(i, i + ROWS_PER_STATEMENT.sqlite);
        const params: unknown[] = [];
        for (const id of slice) params.push(id, byId.get(id), now);
        await tx.run(
          `INSERT INTO profiles (id, attributes, updated_at) VALUES ${slice.map(() => '(?, ?, ?)').join(', ')}
           ON CONFLICT (id) DO UPDATE SET attributes = excluded.attributes, updated_at = excluded.updated_at`,
          params,
        );
      }
    });
    return ids.length;
  }

  /** PostgreSQL: fresh planner statistics after a bulk import (store/segments.ts, analyze). */
  async analyze(): Promise<void> {
    await analyze(this.db, 'profiles');
  }

  async get(id: string): Promise<Profile | undefined> {
    const row = await this.db.get<ProfileRow>('SELECT id, attributes, updated_at FROM profiles WHERE id = ?', [id]);
    return row ? toProfile(row) : undefined;
  }

  /** A page in id order after `afterId`; one row more than `limit` tells the caller there is a next page. */
  async list(limit: number, afterId?: string): Promise<{ items: Profile[]; hasMore: boolean }> {
    // The same collation orders and compares (the primary key's), so the keyset is exact on both stores.
    const rows = await this.db.all<ProfileRow>(
      `SELECT id, attributes, updated_at FROM profiles ${afterId !== undefined ? 'WHERE id > ?' : ''} ORDER BY id LIMIT ?`,
      afterId !== undefined ? [afterId, limit + 1] : [limit + 1],
    );
    return { items: rows.slice(0, limit).map(toProfile), hasMore: rows.length > limit };
  }

  async count(): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM profiles');
    return Number(row?.n ?? 0);
  }

  /**
   * Deletes a profile, its segment memberships (the segments' member counts go down with them) and
   * its rows in the personal data of runs (rejects).
   * Returns false when there was no such profile.
   */
  async delete(id: string, now: string = new Date().toISOString()): Promise<boolean> {
    return this.db.tx(async (tx) => {
      const found = await tx.get('SELECT id FROM profiles WHERE id = ?', [id]);
      if (!found) return false;
      await tx.run(
        `UPDATE segments SET member_count = member_count - 1, updated_at = ?
         WHERE member_count IS NOT NULL AND id IN (SELECT segment_id FROM segment_members WHERE profile_id = ?)`,
        [now, id],
      );
      await tx.run('DELETE FROM segment_members WHERE profile_id = ?', [id]);
      await forgetProfileRows(tx, id);
      await tx.run('DELETE FROM profiles WHERE id = ?', [id]);
      return true;
    });
  }

  /** The attribute names in use, how many profiles have each and their value types (for choosing a mapping). */
  async attributes(): Promise<AttributeSummary[]> {
    const rows =
      this.db.dialect === 'postgres'
        ? await this.db.all<{ name: string; type: string; n: number }>(
            `SELECT e.key AS name, jsonb_typeof(e.value) AS type, COUNT(*) AS n
             FROM profiles p, jsonb_each(p.attributes) e GROUP BY e.key, jsonb_typeof(e.value)`,
          )
        : await this.db.all<{ name: string; type: string; n: number }>(
            `SELECT j.key AS name, j.type AS type, COUNT(*) AS n
             FROM profiles p, json_each(p.attributes) j GROUP BY j.key, j.type`,
          );
    const typeName = (t: string): AttributeSummary['types'][number] =>
      t === 'integer' || t === 'real' || t === 'number' ? 'number' : t === 'text' || t === 'string' ? 'string' : t === 'true' || t === 'false' || t === 'boolean' ? 'boolean' : 'null';
    const byName = new Map<string, { profiles: number; types: Set<AttributeSummary['types'][number]> }>();
    for (const r of rows) {
      const entry = byName.get(r.name) ?? { profiles: 0, types: new Set() };
      entry.profiles += Number(r.n);
      entry.types.add(typeName(r.type));
      byName.set(r.name, entry);
    }
    const order = ['string', 'number', 'boolean', 'null'] as const;
    return [...byName.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, e]) => ({ name, profiles: e.profiles, types: order.filter((t) => e.types.has(t)) }));
  }
}

// ---------------------------------------------------------------- record validation (import)

export const MAX_PROFILE_ID = 128;
export const MAX_ATTRIBUTE_NAME = 256;

export type RecordCheck = { ok: true; profile: ProfileInput } | { ok: false; message: string };

/**
 * Checks one imported record (an NDJSON object or a CSV row as an object): `id` a string of 1..128
 * characters, every other key an attribute name of 1..256 characters with a string, number,
 * boolean or null value. Nested objects and arrays make the record bad.
 */
export function checkProfileRecord(record: unknown): RecordCheck {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return { ok: false, message: 'a record must be a JSON object' };
  const { id, ...attributes } = record as Record<string, unknown>; // rest copies own data properties: a "__proto__" key stays an attribute
  if (id === undefined) return { ok: false, message: 'id is required' };
  if (typeof id !== 'string') return { ok: false, message: 'id must be a string' };
  if (id.length < 1 || id.length > MAX_PROFILE_ID) return { ok: false, message: `id must be 1 to ${MAX_PROFILE_ID} characters` };
  if (!storableText(id)) return { ok: false, message: UNSTORABLE };
  for (const name of Object.keys(attributes)) {
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

export interface ImportOptions {
  /** Records per transaction (default 500). */
  batchSize?: number;
  /** How many errors the result lists (all are counted). */
  maxErrors?: number;
  clock?: () => Date;
}

/**
 * Streams records from `source` into the store: source → parser → batches of `batchSize` upserts,
 * one transaction each. Memory stays flat whatever the size: the loop pulls the next chunk only
 * after the previous batch is handed to the store, and at most one batch is being written while
 * the next one is parsed (so the HTTP request is read no faster than the store writes).
 *
 * Bad records are counted, the first `maxErrors` reported with their line numbers, and skipped.
 * CSV: the first record is the header and must name an `id` column; every value is a string, an
 * empty cell is null.
 */
export async function importProfiles(
  source: AsyncIterable<Buffer | string>,
  format: ImportFormat,
  repo: ProfileRepository,
  options: ImportOptions = {},
): Promise<ImportResult> {
  // Small transactions keep few records alive between parse and write, so fewer survive into
  // V8's old space: measured, 500 a batch peaks ~60 MB lower than 2,000 and is no slower.
  const batchSize = options.batchSize ?? 500;
  const maxErrors = options.maxErrors ?? 100;
  const clock = options.clock ?? (() => new Date());
  const result: ImportResult = { received: 0, upserted: 0, rejected: 0, errors: [] };
  const reject = (line: number, message: string) => {
    result.rejected++;
    if (result.errors.length < maxErrors) result.errors.push({ line, message });
  };

  let batch: StagedProfile[] = [];
  let writing: Promise<void> | undefined;
  let writeError: unknown;
  const flush = async () => {
    if (writing) await writing;
    if (writeError) throw writeError;
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    writing = repo.upsertJson(rows, clock().toISOString()).then(
      () => {
        result.upserted += rows.length;
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
    // Serialized at once: the batch holds two strings a record, not the parsed objects.
    batch.push({ id: checked.profile.id, json: JSON.stringify(checked.profile.attributes) });
  };

  const consume = format === 'ndjson' ? ndjsonConsumer(accept, (line, message) => (result.received++, reject(line, message))) : csvConsumer(accept, (line, message) => (result.received++, reject(line, message)));
  for await (const chunk of source) {
    consume.push(chunk);
    if (batch.length >= batchSize) await flush();
  }
  consume.end();
  await flush();
  if (writing) await writing;
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
  const parser = new CsvParser();
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
      const entries: [string, string | null][] = header.map((name, i) => [name, r.fields[i] === '' ? null : r.fields[i]]);
      accept(r.line, Object.fromEntries(entries));
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
