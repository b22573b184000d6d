import type { Db, Dialect } from './db';

export interface RateLimits {
  /** Requests the server accepts in any rolling second. */
  perSecond: number;
  /** Requests the server accepts per UTC day. */
  perDay: number;
}

export type Reservation =
  | {
      exhausted?: false;
      /** When the caller may send (epoch ms); it must not send earlier. */
      sendAtMs: number;
      /** Requests counted in the slot's UTC day, this one included. */
      usedToday: number;
    }
  | { exhausted: true; /** The next 00:00 UTC, when the daily budget starts again. */ resetAtMs: number };

export interface ReserveOptions {
  /**
   * false: take a new slot without counting another request of the day. For a caller that reserved
   * already but could not send on time (its process stalled) and must not send late into someone
   * else's slot.
   */
  countDaily?: boolean;
}

export interface RateLimitRepositoryOptions {
  /**
   * Extra spacing between two slots, as a fraction of 1000/perSecond (default 0.2) with a floor of
   * `minMarginMs` (default 5): the server counts arrivals in a rolling second, so evenly spaced slots
   * with a margin keep it under perSecond even when requests arrive with a little jitter.
   */
  marginRatio?: number;
  minMarginMs?: number;
}

const DAY_MS = 86_400_000;

interface RateRow {
  next_slot_ms: number;
  window_day: string;
  window_count: number;
}

/**
 * Pacing shared by every process that uses the store (a SQLite file on one machine, PostgreSQL across
 * machines): each request to a rate-limited service first reserves a send time. Slots are evenly
 * spaced at 1000/perSecond plus a safety margin; a UTC day hands out at most perDay slots.
 *
 * One upsert … RETURNING per reservation, atomic in both dialects (SQLite serializes writers on the
 * file; PostgreSQL locks the key's row), so two processes never get the same slot.
 */
export class RateLimitRepository {
  private readonly marginRatio: number;
  private readonly minMarginMs: number;

  constructor(
    private readonly db: Db,
    options: RateLimitRepositoryOptions = {},
  ) {
    this.marginRatio = options.marginRatio ?? 0.2;
    this.minMarginMs = options.minMarginMs ?? 5;
  }

  /** The spacing between two slots for a per-second limit. */
  intervalMs(perSecond: number): number {
    const base = 1000 / perSecond;
    return Math.ceil(base + Math.max(this.minMarginMs, base * this.marginRatio));
  }

  async reserve(key: string, limits: RateLimits, nowMs: number, options: ReserveOptions = {}): Promise<Reservation> {
    if (!(limits.perSecond > 0) || !(limits.perDay > 0)) throw new Error('rate limits must be positive');
    const interval = this.intervalMs(limits.perSecond);
    const inc = (options.countDaily ?? true) ? 1 : 0;
    const now = Math.floor(nowMs);
    const d = this.db.dialect;
    // One statement, atomic on its own in both dialects: no transaction is held open across awaits
    // (two SQLite connections in one process would otherwise wait on each other's write lock).
    const slot = d === 'postgres' ? 'GREATEST(CAST(? AS BIGINT), r.next_slot_ms)' : 'MAX(CAST(? AS INTEGER), r.next_slot_ms)';
    const sql = `
      INSERT INTO rate_limits AS r (key, next_slot_ms, window_day, window_count)
      VALUES (?, CAST(? AS ${d === 'postgres' ? 'BIGINT' : 'INTEGER'}), ?, CAST(? AS INTEGER))
      ON CONFLICT (key) DO UPDATE SET
        next_slot_ms = ${slot} + CAST(? AS INTEGER),
        window_day = ${dayOf(d, slot)},
        window_count = CASE WHEN r.window_day = ${dayOf(d, slot)} THEN r.window_count ELSE 0 END + CAST(? AS INTEGER)
      WHERE CAST(? AS INTEGER) = 0 OR r.window_day <> ${dayOf(d, slot)} OR r.window_count < CAST(? AS INTEGER)
      RETURNING next_slot_ms, window_count`;
    const row = await this.db.get<{ next_slot_ms: number; window_count: number }>(sql, [
      key, now + interval, utcDay(now), inc,
      now, interval,
      now,
      now, inc,
      inc, now, limits.perDay,
    ]);
    if (row) return { sendAtMs: Number(row.next_slot_ms) - interval, usedToday: Number(row.window_count) };
    // Nothing updated: the day's budget is spent.
    const current = await this.db.get<RateRow>('SELECT next_slot_ms, window_day, window_count FROM rate_limits WHERE key = ?', [key]);
    return { exhausted: true, resetAtMs: nextUtcMidnight(Math.max(now, Number(current?.next_slot_ms ?? 0))) };
  }

  /** Requests counted today (UTC) for a key: for stats and tests. */
  async usedToday(key: string, nowMs: number): Promise<number> {
    const row = await this.db.get<RateRow>('SELECT next_slot_ms, window_day, window_count FROM rate_limits WHERE key = ?', [key]);
    return row && row.window_day === utcDay(nowMs) ? Number(row.window_count) : 0;
  }
}

/** SQL for the UTC day (YYYY-MM-DD) of an epoch-ms expression, matching utcDay(). */
function dayOf(d: Dialect, ms: string): string {
  return d === 'postgres'
    ? `to_char(to_timestamp(FLOOR((${ms}) / 1000)) AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
    : `strftime('%Y-%m-%d', (${ms}) / 1000, 'unixepoch')`;
}

export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
export const nextUtcMidnight = (ms: number) => (Math.floor(ms / DAY_MS) + 1) * DAY_MS;
