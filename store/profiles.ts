import { readCatalog, CatalogDelta, applyCatalogDelta, type AttributeSummary } from './catalog';
import { jsonColumn, type Db } from './db';
import { forgetProfileRows } from './personal-data';
import { ProfileBatch, writeProfileBatch } from './profile-batch';
import { analyze } from './rules';
import type { Attributes, Profile } from './types';

export type { AttributeSummary } from './catalog';

export interface ProfileInput {
  id: string;
  attributes: Attributes;
}

interface ProfileRow {
  id: string;
  attributes: unknown;
  updated_at: string;
}

const toProfile = (r: ProfileRow): Profile => ({ id: r.id, attributes: jsonColumn<Attributes>(r.attributes), updatedAt: r.updated_at });

export class ProfileRepository {
  constructor(private readonly db: Db) {}

  get dialect(): Db['dialect'] {
    return this.db.dialect;
  }

  /**
   * Upserts profiles in one transaction: each profile's attributes replace the stored ones; the
   * last record of an id wins. Returns the number of distinct ids.
   */
  async upsertMany(profiles: readonly ProfileInput[], now: string = new Date().toISOString()): Promise<number> {
    const batch = new ProfileBatch();
    for (const p of profiles) batch.add(p.id, p.attributes);
    return this.write(batch, now);
  }

  /** Writes a batch in one transaction, with the attribute catalog. */
  write(batch: ProfileBatch, now: string = new Date().toISOString()): Promise<number> {
    return writeProfileBatch(this.db, batch, now);
  }

  /** PostgreSQL: fresh planner statistics after a bulk import (store/rules.ts, analyze). */
  async analyze(): Promise<void> {
    await analyze(this.db, 'profiles');
  }

  async get(id: string): Promise<Profile | undefined> {
    const row = await this.db.get<ProfileRow>('SELECT id, attributes, updated_at FROM profiles WHERE id = ?', [id]);
    return row ? toProfile(row) : undefined;
  }

  /** A page in id order after `afterId`; one row more than `limit` tells the caller there is a next page. */
  async list(limit: number, afterId?: string): Promise<{ items: Profile[]; hasMore: boolean }> {
    // The same collation orders and compares (the primary key's), so the keyset is exact on both stores.
    const rows = await this.db.all<ProfileRow>(
      `SELECT id, attributes, updated_at FROM profiles ${afterId !== undefined ? 'WHERE id > ?' : ''} ORDER BY id LIMIT ?`,
      afterId !== undefined ? [afterId, limit + 1] : [limit + 1],
    );
    return { items: rows.slice(0, limit).map(toProfile), hasMore: rows.length > limit };
  }

  async count(): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM profiles');
    return Number(row?.n ?? 0);
  }

  /**
   * Deletes a profile, its segment memberships (the segments' member counts go down with them) and
   * its rows in the personal data of runs (rejects) and its share of the attribute catalog.
   * Returns false when there was no such profile.
   */
  async delete(id: string, now: string = new Date().toISOString()): Promise<boolean> {
    return this.db.tx(async (tx) => {
      const deleted = await tx.get<ProfileRow>('DELETE FROM profiles WHERE id = ? RETURNING id, attributes, updated_at', [id]);
      if (!deleted) return false;
      await tx.run(
        `UPDATE segments SET member_count = member_count - 1, updated_at = ?
         WHERE member_count IS NOT NULL AND id IN (SELECT segment_id FROM segment_members WHERE profile_id = ?)`,
        [now, id],
      );
      await tx.run('DELETE FROM segment_members WHERE profile_id = ?', [id]);
      await forgetProfileRows(tx, id);
      const delta = new CatalogDelta();
      delta.addAttributes(toProfile(deleted).attributes, -1);
      await applyCatalogDelta(tx, delta);
      return true;
    });
  }

  /** The attribute names in use, how many profiles have each and their value types (from the catalog: no scan). */
  attributes(): Promise<AttributeSummary[]> {
    return readCatalog(this.db);
  }
}
