import { z } from 'zod';
import type { Db, Dialect } from './db';

/**
 * Segment rules: the grammar, its validation, and its compilation to parameterized SQL
 * for SQLite and PostgreSQL. Attribute names and values are always bound parameters; the SQL text
 * depends only on the rule's shape (operators and nesting), never on its data.
 *
 * Semantics, the same on both stores:
 * - A missing attribute and an attribute whose value is null are the same: "no value".
 * - Positive operators (eq, in, gt, gte, lt, lte, contains, startsWith, exists) never match a
 *   profile without a value. `neq`, `nin` and `notExists` are exactly `not eq`, `not in` and
 *   `not exists`: they DO match profiles without the attribute ("everyone except Country = LV"
 *   includes profiles with no Country).
 * - `eq`/`in` are exact in type and value: the string "10" is not the number 10, true is not 1;
 *   strings compare case-sensitively.
 * - `gt`/`gte`/`lt`/`lte` with a number compare numbers and match only numeric values (a string
 *   "10" never matches `gt 5`); with a string they compare strings by Unicode code point (so ISO
 *   dates compare as dates) and match only string values.
 * - `contains`/`startsWith` take a string, match only string values and ignore case with Unicode
 *   case mapping ("JĀNIS" contains "jān").
 * - `{"all": []}` matches every profile; `{"any": []}` matches none.
 */

export const UNSTORABLE = 'text must be valid Unicode without NUL characters (\\u0000)';

/** Both stores keep the text as is: no NUL (PostgreSQL text and jsonb refuse it) and no lone surrogate. */
export function storableText(s: string): boolean {
  return !s.includes('\u0000') && (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

export const OPS = ['eq', 'neq', 'in', 'nin', 'gt', 'gte', 'lt', 'lte', 'contains', 'startsWith', 'exists', 'notExists'] as const;
export type Op = (typeof OPS)[number];
export type Scalar = string | number | boolean;

export type Condition =
  | { attribute: string; op: 'eq' | 'neq'; value: Scalar }
  | { attribute: string; op: 'in' | 'nin'; value: Scalar[] }
  | { attribute: string; op: 'gt' | 'gte' | 'lt' | 'lte'; value: number | string }
  | { attribute: string; op: 'contains' | 'startsWith'; value: string }
  | { attribute: string; op: 'exists' | 'notExists' };

export type Rule = { all: Rule[] } | { any: Rule[] } | { not: Rule } | Condition;

export const MAX_DEPTH = 10;
export const MAX_CONDITIONS = 100;
export const MAX_GROUPS = 100;
export const MAX_IN_VALUES = 1000;
export const MAX_ATTRIBUTE_NAME = 256;
export const MAX_VALUE_CHARS = 10_000;

// ---------------------------------------------------------------- validation

const attribute = z
  .string({ error: 'attribute must be a string' })
  .min(1, 'attribute must not be empty')
  .max(MAX_ATTRIBUTE_NAME, `attribute must be at most ${MAX_ATTRIBUTE_NAME} characters`)
  .refine(storableText, UNSTORABLE);
const str = z.string().max(MAX_VALUE_CHARS, `a string value must be at most ${MAX_VALUE_CHARS} characters`).refine(storableText, UNSTORABLE);
const num = z.number({ error: 'expected a finite number' });
const scalar = z.union([str, num, z.boolean()], { error: 'value must be a string, a number or a boolean (use exists/notExists for missing values)' });

const conditionSchemas: Record<Op, z.ZodType> = {
  eq: z.strictObject({ attribute, op: z.literal('eq'), value: scalar }),
  neq: z.strictObject({ attribute, op: z.literal('neq'), value: scalar }),
  in: z.strictObject({
    attribute,
    op: z.literal('in'),
    value: z.array(scalar, { error: 'value must be an array of strings, numbers or booleans' }).min(1, 'value must list at least one value').max(MAX_IN_VALUES, `value lists at most ${MAX_IN_VALUES} values`),
  }),
  nin: z.strictObject({
    attribute,
    op: z.literal('nin'),
    value: z.array(scalar, { error: 'value must be an array of strings, numbers or booleans' }).min(1, 'value must list at least one value').max(MAX_IN_VALUES, `value lists at most ${MAX_IN_VALUES} values`),
  }),
  ...Object.fromEntries(
    (['gt', 'gte', 'lt', 'lte'] as const).map((op) => [
      op,
      z.strictObject({ attribute, op: z.literal(op), value: z.union([num, str], { error: `${op} compares with a number or a string` }) }),
    ]),
  ),
  contains: z.strictObject({ attribute, op: z.literal('contains'), value: str.min(1, 'value must not be empty') }),
  startsWith: z.strictObject({ attribute, op: z.literal('startsWith'), value: str.min(1, 'value must not be empty') }),
  exists: z.strictObject({ attribute, op: z.literal('exists') }, { error: 'exists takes no value' }),
  notExists: z.strictObject({ attribute, op: z.literal('notExists') }, { error: 'notExists takes no value' }),
} as unknown as Record<Op, z.ZodType>;

export interface RuleIssue {
  path: (string | number)[];
  message: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates a rule and returns the issues with their paths (relative to the rule). Walks the rule
 * itself, depth first, stopping at MAX_DEPTH, so an absurdly deep input cannot exhaust the stack.
 */
export function validateRule(input: unknown): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const counts = { conditions: 0, groups: 0 };
  const visit = (node: unknown, path: (string | number)[], depth: number): void => {
    if (issues.length >= 20) return;
    if (depth > MAX_DEPTH) {
      issues.push({ path, message: `rules nest at most ${MAX_DEPTH} levels deep` });
      return;
    }
    if (!isPlainObject(node)) {
      issues.push({ path, message: 'a rule is an object: {"all": [rules]}, {"any": [rules]}, {"not": rule} or a condition {"attribute", "op", "value"}' });
      return;
    }
    const groupKeys = (['all', 'any', 'not'] as const).filter((k) => k in node);
    if (groupKeys.length > 0) {
      const key = groupKeys[0];
      const extra = Object.keys(node).filter((k) => k !== key);
      if (extra.length > 0) {
        issues.push({ path, message: `a group has exactly one key (${key}); unexpected: ${extra.join(', ')}` });
        return;
      }
      if (++counts.groups === MAX_GROUPS + 1) issues.push({ path, message: `a rule has at most ${MAX_GROUPS} groups (all/any/not)` });
      if (key === 'not') {
        visit(node.not, [...path, 'not'], depth + 1);
        return;
      }
      const children = node[key];
      if (!Array.isArray(children)) {
        issues.push({ path: [...path, key], message: `${key} takes an array of rules` });
        return;
      }
      for (let i = 0; i < children.length && issues.length < 20; i++) visit(children[i], [...path, key, i], depth + 1);
      return;
    }
    if (++counts.conditions === MAX_CONDITIONS + 1) issues.push({ path, message: `a rule has at most ${MAX_CONDITIONS} conditions` });
    const op = node.op;
    if (typeof op !== 'string' || !(OPS as readonly string[]).includes(op)) {
      if (!('op' in node) && !('attribute' in node)) {
        issues.push({ path, message: 'a rule is an object: {"all": [rules]}, {"any": [rules]}, {"not": rule} or a condition {"attribute", "op", "value"}' });
      } else {
        issues.push({ path: [...path, 'op'], message: `op must be one of ${OPS.join(', ')}` });
      }
      return;
    }
    const result = conditionSchemas[op as Op].safeParse(node);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const keys = (issue as { keys?: string[] }).keys;
        const message = issue.code === 'unrecognized_keys' && keys ? `unknown field${keys.length > 1 ? 's' : ''} for ${op}: ${keys.join(', ')}` : issue.message;
        issues.push({ path: [...path, ...(issue.path as (string | number)[])], message });
      }
    }
  };
  visit(input, [], 1);
  return issues;
}

const GRAMMAR = [
  'A segment rule: {"all": [Rule, …]} (every rule matches; [] matches every profile), {"any": [Rule, …]} (at least one),',
  '{"not": Rule}, or a condition {"attribute": NAME, "op": OP, "value": …}.',
  `OP: eq, neq (string, number or boolean, exact type and value); in, nin (array of 1..${MAX_IN_VALUES} of those);`,
  'gt, gte, lt, lte (a number compares numeric attributes only; a string compares string attributes by code point);',
  'contains, startsWith (a string, case-insensitive, string attributes only); exists, notExists (no value).',
  'A missing attribute and a null value are "no value": positive operators never match it; neq, nin and notExists do.',
  `At most ${MAX_DEPTH} levels deep and ${MAX_CONDITIONS} conditions.`,
].join(' ');

/** The zod schema routes use: validates with the paths of validateRule and documents the grammar. */
export const ruleSchema = z
  .custom<Rule>(() => true)
  .superRefine((value, ctx) => {
    if (value === undefined) {
      ctx.addIssue({ code: 'custom', message: 'rule is required' });
      return;
    }
    for (const issue of validateRule(value)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  })
  .meta({
    description: GRAMMAR,
    example: { all: [{ attribute: 'Country', op: 'eq', value: 'LV' }, { not: { attribute: 'Unsubscribed', op: 'eq', value: true } }] },
  });

// ---------------------------------------------------------------- compilation

export interface SqlFragment {
  sql: string;
  params: unknown[];
}

export interface CompileOptions {
  /** The profiles table alias whose `attributes` the rule reads. */
  alias?: string;
  /** PostgreSQL: the collation lower() uses for Unicode case mapping (null: the database's own). */
  caseFoldCollation?: string | null;
}

/** Unicode case folding, the same in JS, in SQLite (seg_fold, registered below) and PostgreSQL (lower). */
export const foldCase = (s: string) => s.toLowerCase();

/** SQLite JSON path to one object member: `$."name"` with JSON escapes (quotes, backslashes, dots and all). */
export const sqliteAttributePath = (name: string) => `$.${JSON.stringify(name)}`;

/** Compiles a validated rule to a boolean SQL expression over `<alias>.attributes`; never NULL. */
export function compileRule(rule: Rule, dialect: Dialect, options: CompileOptions = {}): SqlFragment {
  const alias = options.alias ?? 'p';
  if (!/^[a-z_][a-z0-9_]*$/.test(alias)) throw new Error('invalid alias');
  const collation = options.caseFoldCollation ?? null;
  if (collation !== null && !/^[A-Za-z0-9_.-]+$/.test(collation)) throw new Error('invalid collation');
  const a = `${alias}.attributes`;
  const params: unknown[] = [];
  const bind = (v: unknown) => {
    params.push(v);
    return '?';
  };

  const sqlite = (c: Condition): string => {
    const path = sqliteAttributePath(c.attribute);
    const type = () => `json_type(${a}, ${bind(path)})`;
    const value = () => `json_extract(${a}, ${bind(path)})`;
    const scalarEq = (v: Scalar) =>
      typeof v === 'boolean'
        ? `${type()} = ${bind(v ? 'true' : 'false')}`
        : typeof v === 'number'
          ? `(${type()} IN ('integer', 'real') AND ${value()} = ${bind(v)})`
          : `(${type()} = 'text' AND ${value()} = ${bind(v)})`;
    switch (c.op) {
      case 'eq':
      case 'neq':
        return scalarEq(c.value);
      case 'in':
      case 'nin': {
        const strings = c.value.filter((v): v is string => typeof v === 'string');
        const numbers = c.value.filter((v): v is number => typeof v === 'number');
        const booleans = [...new Set(c.value.filter((v): v is boolean => typeof v === 'boolean'))];
        const parts: string[] = [];
        if (strings.length) parts.push(`(${type()} = 'text' AND ${value()} IN (SELECT value FROM json_each(${bind(JSON.stringify(strings))})))`);
        if (numbers.length) parts.push(`(${type()} IN ('integer', 'real') AND ${value()} IN (SELECT value FROM json_each(${bind(JSON.stringify(numbers))})))`);
        for (const b of booleans) parts.push(scalarEq(b));
        return parts.join(' OR ');
      }
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte': {
        const cmp = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[c.op];
        const kind = typeof c.value === 'number' ? `IN ('integer', 'real')` : `= 'text'`;
        return `(${type()} ${kind} AND ${value()} ${cmp} ${bind(c.value)})`;
      }
      case 'contains':
        return `(${type()} = 'text' AND instr(seg_fold(${value()}), ${bind(foldCase(c.value))}) > 0)`;
      case 'startsWith':
        return `(${type()} = 'text' AND instr(seg_fold(${value()}), ${bind(foldCase(c.value))}) = 1)`;
      case 'exists':
      case 'notExists':
        return `IFNULL(${type()}, 'null') <> 'null'`;
    }
  };

  const postgres = (c: Condition): string => {
    const member = () => `(${a} -> ${bind(c.attribute)}::text)`;
    const text = () => `(${a} ->> ${bind(c.attribute)}::text)`;
    const type = () => `jsonb_typeof(${member()})`;
    const fold = (sql: string) => `lower(${sql}${collation ? ` COLLATE "${collation}"` : ''})`;
    switch (c.op) {
      case 'eq':
      case 'neq':
        return `${a} @> ${bind(JSON.stringify({ [c.attribute]: c.value }))}::jsonb`;
      case 'in':
      case 'nin':
        return `${bind(JSON.stringify(c.value))}::jsonb @> ${member()}`;
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte': {
        const cmp = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[c.op];
        return typeof c.value === 'number'
          ? `CASE WHEN ${type()} = 'number' THEN ${text()}::numeric ${cmp} ${bind(c.value)}::numeric ELSE FALSE END`
          : `CASE WHEN ${type()} = 'string' THEN ${text()} COLLATE "C" ${cmp} ${bind(c.value)}::text ELSE FALSE END`;
      }
      case 'contains':
        return `CASE WHEN ${type()} = 'string' THEN strpos(${fold(text())}, ${bind(foldCase(c.value))}::text) > 0 ELSE FALSE END`;
      case 'startsWith':
        return `CASE WHEN ${type()} = 'string' THEN starts_with(${fold(text())}, ${bind(foldCase(c.value))}::text) ELSE FALSE END`;
      case 'exists':
      case 'notExists':
        return `COALESCE(${type()}, 'null') <> 'null'`;
    }
  };

  const negative = (op: Op) => op === 'neq' || op === 'nin' || op === 'notExists';

  const walk = (r: Rule): string => {
    if ('all' in r) return r.all.length === 0 ? '(1 = 1)' : `(${r.all.map(walk).join(' AND ')})`;
    if ('any' in r) return r.any.length === 0 ? '(1 = 0)' : `(${r.any.map(walk).join(' OR ')})`;
    if ('not' in r) return `(NOT ${walk(r.not)})`;
    // Every condition is made two-valued: NOT of a NULL would drop rows from `not` and `neq`.
    const positive = `COALESCE((${dialect === 'sqlite' ? sqlite(r) : postgres(r)}), FALSE)`;
    return negative(r.op) ? `(NOT ${positive})` : positive;
  };

  return { sql: walk(rule), params };
}

// ---------------------------------------------------------------- dialect support

const sqliteReady = new WeakSet<object>();

interface SqliteFunctionHost {
  function(name: string, options: { deterministic: boolean }, fn: (...args: unknown[]) => unknown): unknown;
}

/**
 * Registers seg_fold(text) on the SQLite connection: SQLite's lower() folds ASCII only, and rules
 * (contains, startsWith) and snapshot email keys need Unicode case mapping ("JĀNIS" → "jānis").
 * Idempotent per connection.
 */
export function ensureSqliteFunctions(db: Db): void {
  if (db.dialect !== 'sqlite') return;
  const raw = (db as unknown as { raw?: SqliteFunctionHost }).raw;
  if (!raw || typeof raw.function !== 'function') throw new Error('the SQLite store does not expose its connection for function registration');
  if (sqliteReady.has(raw)) return;
  raw.function('seg_fold', { deterministic: true }, (s: unknown) => (typeof s === 'string' ? s.toLowerCase() : s));
  sqliteReady.add(raw);
}

const pgCollations = new WeakMap<object, Promise<string | null>>();

/** PostgreSQL: the ICU root collation when the server has it (Unicode lower() whatever the database locale). */
export function caseFoldCollation(db: Db): Promise<string | null> {
  if (db.dialect !== 'postgres') return Promise.resolve(null);
  const key = (db as unknown as { pool?: object }).pool ?? db;
  let found = pgCollations.get(key);
  if (!found) {
    found = db
      .get<{ collname: string }>(`SELECT collname FROM pg_collation WHERE collname = 'und-x-icu' LIMIT 1`)
      .then((r) => (r ? r.collname : null));
    found.catch(() => pgCollations.delete(key));
    pgCollations.set(key, found);
  }
  return found;
}

/** After this many rows changed at once, PostgreSQL's statistics are refreshed (see analyze). */
export const ANALYZE_AFTER_ROWS = 10_000;

/**
 * PostgreSQL: refreshes a table's planner statistics after a bulk change, so that the next big
 * query (a run's snapshot right after the scheduled refresh) is planned for the real sizes instead
 * of stale ones (measured on 1M members: a nested loop of 1M index lookups instead of a hash join,
 * twice as slow). Samples a fixed number of rows, so it stays cheap. Best effort; SQLite: nothing.
 */
export async function analyze(db: Db, table: 'profiles' | 'segment_members' | 'run_snapshot'): Promise<void> {
  if (db.dialect !== 'postgres') return;
  await db.run(`ANALYZE ${table}`).catch(() => undefined);
}
