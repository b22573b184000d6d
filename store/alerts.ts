import type { AlertThresholds } from '../common/config';
import type { Db } from './db';
import type { RunCounts } from './types';

/**
 * Alerts: what a run raised when it ended (one per reason, with its figures), the alert thresholds
 * an export sets for itself (null: the configured default), and the baseline a run is compared with.
 */

export const ALERT_REASONS = ['rejected_share', 'run_duration', 'segment_size_change'] as const;
export type AlertReason = (typeof ALERT_REASONS)[number];

export interface RunAlert {
  reason: AlertReason;
  /** What happened, in words (figures only: no profile data). */
  message: string;
  /** The threshold crossed, and the value that crossed it (percent or minutes, as the reason says). */
  threshold: number;
  value: number;
  /** The counts behind the value. */
  figures: Record<string, number>;
}

/** An export's own thresholds; null uses the configured default. */
export type AlertOverrides = { [K in keyof AlertThresholds]: AlertThresholds[K] | null };

export const noOverrides = (): AlertOverrides => ({ rejectedPercent: null, runDurationMinutes: null, segmentChangePercent: null });

interface SettingsRow {
  rejected_percent: number | null;
  run_duration_minutes: number | null;
  segment_change_percent: number | null;
}

const num = (v: number | null) => (v === null ? null : Number(v));

export class AlertRepository {
  constructor(private readonly db: Db) {}

  /** Records a run's alerts; an alert recorded already (a retried finalize) stays as it was. */
  async record(runId: string, alerts: readonly RunAlert[], now: string): Promise<void> {
    for (const alert of alerts) {
      await this.db.run('INSERT INTO run_alerts (run_id, reason, alert, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (run_id, reason) DO NOTHING', [
        runId,
        alert.reason,
        JSON.stringify(alert),
        now,
      ]);
    }
  }

  /** The alerts of each run (runs without any are absent from the map). */
  async ofRuns(runIds: readonly string[]): Promise<Map<string, RunAlert[]>> {
    const byRun = new Map<string, RunAlert[]>();
    if (runIds.length === 0) return byRun;
    const rows = await this.db.allShared<{ run_id: string; alert: string }>(
      `SELECT run_id, alert FROM run_alerts WHERE run_id IN (${runIds.map(() => '?').join(', ')}) ORDER BY run_id, reason`,
      [...runIds],
    );
    for (const r of rows) byRun.set(r.run_id, [...(byRun.get(r.run_id) ?? []), JSON.parse(r.alert) as RunAlert]);
    return byRun;
  }

  async overrides(exportId: string): Promise<AlertOverrides> {
    const row = await this.db.get<SettingsRow>('SELECT rejected_percent, run_duration_minutes, segment_change_percent FROM export_alert_settings WHERE export_id = ?', [exportId]);
    if (!row) return noOverrides();
    return { rejectedPercent: num(row.rejected_percent), runDurationMinutes: num(row.run_duration_minutes), segmentChangePercent: num(row.segment_change_percent) };
  }

  async setOverrides(exportId: string, o: AlertOverrides, now: string): Promise<void> {
    await this.db.run(
      `INSERT INTO export_alert_settings (export_id, rejected_percent, run_duration_minutes, segment_change_percent, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (export_id) DO UPDATE SET rejected_percent = excluded.rejected_percent, run_duration_minutes = excluded.run_duration_minutes,
         segment_change_percent = excluded.segment_change_percent, updated_at = excluded.updated_at`,
      [exportId, o.rejectedPercent, o.runDurationMinutes, o.segmentChangePercent, now],
    );
  }

  /** The counts of the export's last successful run that started before `before` (the segment-size baseline). */
  async lastSucceededCounts(exportId: string, before: string, exceptRunId: string): Promise<RunCounts | undefined> {
    const row = await this.db.get<{ counts: unknown }>(
      `SELECT counts FROM runs WHERE export_id = ? AND status = 'succeeded' AND id <> ? AND started_at <= ? ORDER BY started_at DESC, id DESC LIMIT 1`,
      [exportId, exceptRunId, before],
    );
    if (!row) return undefined;
    return (typeof row.counts === 'string' ? JSON.parse(row.counts) : row.counts) as RunCounts;
  }
}
