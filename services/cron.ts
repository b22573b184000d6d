import type { Range } from '@temporalio/client';

/**
 * The one cron parser: a classic 5-field expression (minute hour day-of-month month day-of-week)
 * as calendars, the form a Temporal Schedule takes. Fields take `*`, lists `a,b`, ranges `a-b`,
 * steps `/n` after `*` or a range, `a/n` (a to the end of the field, as in Vixie cron and Temporal),
 * month and weekday names; day of week is 0-6 (0 = Sunday). What a Temporal calendar cannot express
 * (`L`, `W`, `#`, `?`, macros, a seconds field) is refused with a message naming the field.
 *
 * Classic cron fires when the day of month OR the day of week matches if both are restricted
 * (neither starts with `*`); Temporal's own cron strings AND them, so that case becomes two calendars.
 * Why this and not croner or cron-parser: docs/architecture.md, "Cron expressions".
 */

/** One field of a calendar: ranges of numbers (inclusive, with a step). */
export type Ranges = Range<number>[];

/** A calendar in numbers: a minute matches when every field matches. Day of week 0 = Sunday. */
export interface Calendar {
  minute: Ranges;
  hour: Ranges;
  dayOfMonth: Ranges;
  month: Ranges;
  dayOfWeek: Ranges;
  comment?: string;
}

export class CronError extends Error {
  override name = 'CronError';
}

interface FieldDef {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** The value the first name stands for (months start at 1, days at 0). */
  namesFrom?: number;
}

const FIELDS: FieldDef[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'], namesFrom: 1 },
  { name: 'day of week', min: 0, max: 6, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'], namesFrom: 0 },
];
const [, , DAY_OF_MONTH, , DAY_OF_WEEK] = FIELDS;

const every = (def: FieldDef): Ranges => [{ start: def.min, end: def.max, step: 1 }];

function parseField(text: string, def: FieldDef): Ranges {
  const value = (token: string): number => {
    if (/^\d{1,2}$/.test(token)) return Number(token);
    const i = def.names?.indexOf(token.toUpperCase()) ?? -1;
    if (i < 0) throw new CronError(`${def.name}: "${token}" is not a value of ${def.min}-${def.max}`);
    return i + (def.namesFrom ?? 0);
  };
  return text.split(',').map((item) => {
    const m = item.match(/^([^/]+)(?:\/(\d{1,2}))?$/);
    if (!m) throw new CronError(`${def.name}: "${item}" is not a cron item`);
    const step = m[2] === undefined ? 1 : Number(m[2]);
    // A step that cannot repeat within the field is a mistake, not a schedule.
    if (step < 1 || step > def.max) throw new CronError(`${def.name}: step ${m[2]} is out of range`);
    if (m[1] === '*') return { start: def.min, end: def.max, step };
    const parts = m[1].split('-');
    if (parts.length > 2) throw new CronError(`${def.name}: "${item}" is not a cron item`);
    const start = value(parts[0]);
    const end = parts.length === 2 ? value(parts[1]) : m[2] === undefined ? start : def.max;
    if (start < def.min || start > def.max || end < def.min || end > def.max) throw new CronError(`${def.name}: "${item}" is outside ${def.min}-${def.max}`);
    if (start > end) throw new CronError(`${def.name}: "${item}" is a descending range`);
    return { start, end, step };
  });
}

/** A 5-field cron expression as calendars; throws CronError naming the field that is wrong. */
export function cronCalendars(cron: string): Calendar[] {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 5) throw new CronError(`a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has ${fields.length}`);
  const [minute, hour, dayOfMonth, month, dayOfWeek] = fields.map((f, i) => parseField(f, FIELDS[i]));
  const comment = `cron "${fields.join(' ')}"`;
  if (fields[2].startsWith('*') || fields[4].startsWith('*')) return [{ minute, hour, dayOfMonth, month, dayOfWeek, comment }];
  return [
    { minute, hour, dayOfMonth, month, dayOfWeek: every(DAY_OF_WEEK), comment: `${comment}, by day of month` },
    { minute, hour, dayOfMonth: every(DAY_OF_MONTH), month, dayOfWeek, comment: `${comment}, by day of week` },
  ];
}

/** What is wrong with a cron expression, or null when it is valid. */
export function cronProblem(cron: string): string | null {
  try {
    cronCalendars(cron);
    return null;
  } catch (err) {
    if (err instanceof CronError) return err.message;
    throw err;
  }
}
