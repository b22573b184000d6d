import type { Db } from './db';

export class SegmentRepository {
  constructor(private readonly db: Db) {}
}
