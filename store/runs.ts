import type { Db } from './db';

export class RunRepository {
  constructor(private readonly db: Db) {}
}
