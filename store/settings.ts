import type { Db } from './db';

export class SettingsRepository {
  constructor(private readonly db: Db) {}
}
