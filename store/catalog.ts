import type { Db, Dialect } from './db';
import type { Attributes, AttributeValue } from './types';

/**
 * The attribute catalog: for every attribute name and value type, how many profiles have it.
 * `GET /v1/profile-attributes` reads it instead of scanning every profile. Every write of profiles
 * changes it in the same transaction by what it adds and what it replaces or deletes (a
 * CatalogDelta), so it always equals the scan.
 */

export const ATTRIBUTE_TYPES = ['string', 'number', 'boolean', 'null'] as const;
export type AttributeType = (typeof ATTRIBUTE_TYPES)[number];

export interface AttributeSummary {
  name: string;
  /** How many profiles have the attribute (with any value, null included). */
  profiles: number;
  /** The value types seen: string, number, boolean, null. */
  types: AttributeType[];
}

const typeIndex = (v: AttributeValue): number => (typeof v === 'string' ? 0 : typeof v === 'number' ? 1 : typeof v === 'boolean' ? 2 : 3);

/** Counts per attribute name and type that a change adds to (positive) or takes from (negative) the catalog. */
export class CatalogDelta {
  private readonly counts = new Map<string, number[]>();

  copy(): CatalogDelta {
    const delta = new CatalogDelta();
    for (const [name, c] of this.counts) delta.counts.set(name, [...c]);
    return delta;
  }

  /** A profile with these attributes appears (+1) or goes (-1). */
  addAttributes(attributes: Attributes, sign: 1 | -1): void {
    for (const name in attributes) this.add(name, typeIndex(attributes[name]), sign);
  }

  /** Rows of (name, type, n) as the catalog SQL gives them, with a sign. */
  addRows(rows: readonly { name: string; type: string; n: number | string }[], sign: 1 | -1): void {
    for (const r of rows) this.add(r.name, ATTRIBUTE_TYPES.indexOf(r.type as AttributeType), sign * Number(r.n));
  }

  /** The changed (name, type) pairs in a fixed order (PostgreSQL locks the catalog rows in it). */
  changes(): { name: string; type: AttributeType; n: number }[] {
    const out: { name: string; type: AttributeType; n: number }[] = [];
    for (const [name, c] of this.counts) c.forEach((n, i) => n !== 0 && out.push({ name, type: ATTRIBUTE_TYPES[i], n }));
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  }

  private add(name: string, type: number, n: number): void {
    if (type < 0) throw new Error(`unknown attribute type for "${name}"`);
    let c = this.counts.get(name);
    if (!c) this.counts.set(name, (c = [0, 0, 0, 0]));
    c[type] += n;
  }
}

/** SQL mapping the JSON type names of each store to ours. */
export function catalogType(dialect: Dialect, expr: string): string {
  return dialect === 'postgres'
    ? `CASE ${expr} WHEN 'string' THEN 'string' WHEN 'number' THEN 'number' WHEN 'boolean' THEN 'boolean' ELSE 'null' END`
    : `CASE ${expr} WHEN 'text' THEN 'string' WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean' ELSE 'null' END`;
}

/** The catalog counted by a scan of `profiles` (what the catalog must equal; the migration fills it with this). */
export function scanSql(dialect: Dialect): string {
  return dialect === 'postgres'
    ? `SELECT e.key AS name, ${catalogType(dialect, 'jsonb_typeof(e.value)')} AS type, COUNT(*) AS n FROM profiles p, jsonb_each(p.attributes) e GROUP BY 1, 2`
    : `SELECT j.key AS name, ${catalogType(dialect, 'j.type')} AS type, COUNT(*) AS n FROM profiles p, json_each(p.attributes) j GROUP BY 1, 2`;
}

const ROWS_PER_STATEMENT = 200;

/** Adds a delta to the catalog (inside the caller's transaction) and drops the pairs no profile has any more. */
export async function applyCatalogDelta(db: Db, delta: CatalogDelta): Promise<void> {
  const changes = delta.changes();
  for (let i = 0; i < changes.length; i += ROWS_PER_STATEMENT) {
    const slice = changes.slice(i, i + ROWS_PER_STATEMENT);
    await db.run(
      `INSERT INTO profile_attributes (name, type, profiles) VALUES ${slice.map(() => '(?, ?, ?)').join(', ')}
       ON CONFLICT (name, type) DO UPDATE SET profiles = profile_attributes.profiles + excluded.profiles`,
      slice.flatMap((c) => [c.name, c.type, c.n]),
    );
  }
  const shrunk = [...new Set(changes.filter((c) => c.n < 0).map((c) => c.name))];
  for (let i = 0; i < shrunk.length; i += ROWS_PER_STATEMENT) {
    const names = shrunk.slice(i, i + ROWS_PER_STATEMENT);
    await db.run(`DELETE FROM profile_attributes WHERE profiles <= 0 AND name IN (${names.map(() => '?').join(', ')})`, names);
  }
}

/** The catalog as the API answers it: names in code unit order, types in ATTRIBUTE_TYPES order. */
export async function readCatalog(db: Db): Promise<AttributeSummary[]> {
  const rows = await db.all<{ name: string; type: string; n: number }>('SELECT name, type, profiles AS n FROM profile_attributes WHERE profiles > 0');
  return summarize(rows);
}

export function summarize(rows: readonly { name: string; type: string; n: number | string }[]): AttributeSummary[] {
  const byName = new Map<string, { profiles: number; types: Set<string> }>();
  for (const r of rows) {
    const entry = byName.get(r.name) ?? { profiles: 0, types: new Set<string>() };
    entry.profiles += Number(r.n);
    entry.types.add(r.type);
    byName.set(r.name, entry);
  }
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, e]) => ({ name, profiles: e.profiles, types: ATTRIBUTE_TYPES.filter((t) => e.types.has(t)) }));
}
