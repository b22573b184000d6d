import type { Db } from './db';

export class ProfileRepository {
  constructor(private readonly db: Db) {}
}
