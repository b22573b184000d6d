import type { Db } from './db';

export class ExportRepository {
  constructor(private readonly db: Db) {}
}
