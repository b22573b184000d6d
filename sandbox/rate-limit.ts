const SECOND = 1000;
const DAY = 86_400_000;

/**
 * Timestamps of events in the rolling second (t - 1000, t]. Used both to limit accepted requests and
 * to measure the most requests that ever arrived within one second.
 */
export class RollingSecond {
  private times: number[] = [];
  private head = 0;

  /** Events still inside the window ending at `now`. */
  count(now: number): number {
    const cutoff = now - SECOND;
    while (this.head < this.times.length && this.times[this.head] <= cutoff) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }

  add(now: number): number {
    const n = this.count(now);
    this.times.push(now);
    return n + 1;
  }

  clear(): void {
    this.times = [];
    this.head = 0;
  }
}

/** Requests per UTC day; the count starts again at 00:00 UTC. */
export class DailyCounter {
  private day = -1;
  private n = 0;

  count(now: number): number {
    const day = Math.floor(now / DAY);
    if (day !== this.day) {
      this.day = day;
      this.n = 0;
    }
    return this.n;
  }

  add(now: number): void {
    this.count(now);
    this.n++;
  }

  clear(): void {
    this.day = -1;
    this.n = 0;
  }
}

/** Token bucket: `burst` requests at once, refilled at `ratePerSecond`. */
export class TokenBucket {
  private tokens: number;
  private last = Number.NaN;

  constructor(
    private ratePerSecond: number,
    private burst: number,
  ) {
    this.tokens = burst;
  }

  configure(ratePerSecond: number, burst: number): void {
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }

  take(now: number): boolean {
    if (this.ratePerSecond <= 0) return true;
    if (Number.isNaN(this.last)) this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / SECOND) * this.ratePerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  clear(): void {
    this.tokens = this.burst;
    this.last = Number.NaN;
  }
}

export type RateDecision = { ok: true } | { ok: false; reason: 'per_second' | 'per_day' };

/** The per application key limits of Constant Contact's /v3 API. */
export class KeyRateLimiter {
  private second = new RollingSecond();
  private day = new DailyCounter();

  constructor(
    public ratePerSecond: number,
    public ratePerDay: number,
  ) {}

  /** Accepts the request (and counts it) or refuses it (refused requests count against nothing). */
  take(now: number): RateDecision {
    if (this.day.count(now) >= this.ratePerDay) return { ok: false, reason: 'per_day' };
    if (this.second.count(now) >= this.ratePerSecond) return { ok: false, reason: 'per_second' };
    this.second.add(now);
    this.day.add(now);
    return { ok: true };
  }

  today(now: number): number {
    return this.day.count(now);
  }

  clear(): void {
    this.second.clear();
    this.day.clear();
  }
}
