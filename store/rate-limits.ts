import type { Db } from './db';

export interface RateLimits {
  /** Requests the server accepts in any rolling second. */
  perSecond: number;
  /** Requests the server accepts per UTC day. */
  perDay: number;
}

export type Reservation =
  | { exhausted?: false; /** When the caller may send (epoch ms); it must not send earlier. */ sendAtMs: number }
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
   * Extra spacing between two slots, as a fraction of 1000/perSecond (default 0.1) with a floor of
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
 * One transaction per reservation: SQLite takes its write lock up front (BEGIN IMMEDIATE via db.tx),
 * PostgreSQL locks the key's row (SELECT … FOR UPDATE), so two processes never get the same slot.
 */
export class RateLimitRepository {
  private readonly marginRatio: number;
  private readonly minMarginMs: number;

  constructor(
    private readonly db: Db,
    options: RateLimitRepositoryOptions = {},
  ) {
    this.marginRatio = options.marginRatio ?? 0.1;
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
    const countDaily = options.countDaily ?? true;
    return this.db.tx(async (tx) => {
      await tx.run('INSERT INTO rate_limits (key, next_slot_ms, window_day, window_count) VALUES (?, 0, ?, 0) ON CONFLICT (key) DO NOTHING', [key, '']);
      const row = await tx.get<RateRow>(
        `SELECT next_slot_ms, window_day, window_count FROM rate_limits WHERE key = ?${tx.dialect === 'postgres' ? ' FOR UPDATE' : ''}`,
        [key],
      );
      if (!row) throw new Error('rate limit row vanished');
      const slot = Math.max(Math.floor(nowMs), Number(row.next_slot_ms));
      const day = utcDay(slot);
      const used = row.window_day === day ? Number(row.window_count) : 0;
      if (countDaily && used >= limits.perDay) {
        return { exhausted: true as const, resetAtMs: nextUtcMidnight(slot) };
      }
      await tx.run('UPDATE rate_limits SET next_slot_ms = ?, window_day = ?, window_count = ? WHERE key = ?', [
        slot + interval,
        day,
        used + (countDaily ? 1 : 0),
        key,
      ]);
      return { sendAtMs: slot };
    });
  }

  /** Requests counted today (UTC) for a key: for stats and tests. */
  async usedToday(key: string, nowMs: number): Promise<number> {
    const row = await this.db.get<RateRow>('SELECT next_slot_ms, window_day, window_count FROM rate_limits WHERE key = ?', [key]);
    return row && row.window_day === utcDay(nowMs) ? Number(row.window_count) : 0;
  }
}

export const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
export const nextUtcMidnight = (ms: number) => (Math.floor(ms / DAY_MS) + 1) * DAY_MS;
