import type { Db } from './db';

export class SnapshotRepository {
  constructor(private readonly db: Db) {}
}
