import type { Db } from './db';

export class RateLimitRepository {
  constructor(private readonly db: Db) {}
}
