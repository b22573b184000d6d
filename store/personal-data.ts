import type { Db } from './db';

/**
 * The tables that keep personal data of runs: each row names a profile (`profile_id`) and belongs
 * to a run (`run_id`). One list, so that retention and the deletion of a profile reach every such
 * table: a new table of that kind is one more entry here.
 */
export const PERSONAL_RUN_TABLES = ['run_rejects', 'run_suppressions'] as const;

/** Deletes a profile's rows in every personal-data table of runs (inside the profile's deletion). */
export async function forgetProfileRows(db: Db, profileId: string): Promise<void> {
  for (const table of PERSONAL_RUN_TABLES) await db.run(`DELETE FROM ${table} WHERE profile_id = ?`, [profileId]);
}

export class PersonalDataRepository {
  constructor(private readonly db: Db) {}

  /**
   * Deletes the personal-data rows of runs that ended before `cutoff` (ISO time), a run at a time
   * so no statement grows with the store. Rows of running runs stay. Answers the rows deleted.
   */
  async purgeEndedBefore(cutoff: string, runsPerBatch = 100): Promise<number> {
    let deleted = 0;
    for (;;) {
      const runs = await this.db.all<{ id: string }>(
        `SELECT id FROM runs WHERE finished_at IS NOT NULL AND finished_at < ? AND (${PERSONAL_RUN_TABLES.map((t) => `EXISTS (SELECT 1 FROM ${t} WHERE run_id = runs.id)`).join(' OR ')})
         ORDER BY finished_at LIMIT ?`,
        [cutoff, runsPerBatch],
      );
      for (const { id } of runs) {
        await this.db.tx(async (tx) => {
          for (const table of PERSONAL_RUN_TABLES) deleted += (await tx.run(`DELETE FROM ${table} WHERE run_id = ?`, [id])).changes;
        });
      }
      if (runs.length < runsPerBatch) return deleted;
    }
  }

  /**
   * Claims a periodic job for this process when it is due (not started within `intervalMs`): of
   * many processes asking at once exactly one gets true.
   */
  async claimDueJob(name: string, intervalMs: number, nowMs: number): Promise<boolean> {
    const row = await this.db.get<{ name: string }>(
      `INSERT INTO job_runs AS j (name, last_started_ms) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET last_started_ms = excluded.last_started_ms
       WHERE j.last_started_ms <= ?
       RETURNING name`,
      [name, nowMs, nowMs - intervalMs],
    );
    return row !== undefined;
  }
}
