import { randomUUID } from 'node:crypto';
import type { Db } from './db';

/**
 * Named leases in the store: held by one owner at a time across every process of the store, until
 * released or expired. The holder renews its lease while it works, so a process that dies frees
 * it within one lifetime.
 */

/** How long a lease lasts unless renewed; it is renewed every third of that. */
export const LEASE_MS = 60_000;

export interface Lease {
  release(): Promise<void>;
}

export class LeaseRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Takes the lease `name`, or answers undefined while another owner holds it. */
  async acquire(name: string, ttlMs = LEASE_MS): Promise<Lease | undefined> {
    const owner = randomUUID();
    const now = this.clock();
    const taken = await this.db.run(
      `INSERT INTO store_leases (name, owner, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at WHERE store_leases.expires_at <= ?`,
      [name, owner, now + ttlMs, now],
    );
    if (taken.changes === 0) return undefined;
    const renew = setInterval(() => {
      this.db.run('UPDATE store_leases SET expires_at = ? WHERE name = ? AND owner = ?', [this.clock() + ttlMs, name, owner]).catch(() => undefined);
    }, ttlMs / 3);
    renew.unref();
    return {
      release: async () => {
        clearInterval(renew);
        await this.db.run('DELETE FROM store_leases WHERE name = ? AND owner = ?', [name, owner]);
      },
    };
  }
}
