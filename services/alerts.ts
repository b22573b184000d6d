import type { AlertThresholds } from '../common/config';
import type { AlertOverrides, RunAlert } from '../store/alerts';
import type { Run, RunCounts } from '../store/types';

/**
 * The alerts of a run that ended, decided from its record alone (and the export's last successful
 * run for the segment size): rejected + suppressed profiles over a share of the segment, a run that
 * took too long, a segment that grew or shrank too much. Skipped runs raise none; the segment size
 * is judged only on runs that succeeded (a failed run may have stopped before its snapshot).
 */

export function effectiveThresholds(defaults: AlertThresholds, overrides: AlertOverrides): AlertThresholds {
  return {
    rejectedPercent: overrides.rejectedPercent ?? defaults.rejectedPercent,
    runDurationMinutes: overrides.runDurationMinutes ?? defaults.runDurationMinutes,
    segmentChangePercent: overrides.segmentChangePercent ?? defaults.segmentChangePercent,
  };
}

type EndedRun = Pick<Run, 'status' | 'startedAt' | 'finishedAt'> & { counts: RunCounts & { suppressed?: number } };

const round1 = (n: number) => Math.round(n * 10) / 10;

export function evaluateAlerts(run: EndedRun, thresholds: AlertThresholds, lastSucceeded: RunCounts | undefined): RunAlert[] {
  if (run.status === 'running' || run.status === 'skipped') return [];
  const alerts: RunAlert[] = [];
  const { segmentProfiles, rejected } = run.counts;
  // Runs before the delivery ledger have no `suppressed` count: none were suppressed.
  const suppressed = run.counts.suppressed ?? 0;

  if (segmentProfiles > 0) {
    const percent = round1((100 * (rejected + suppressed)) / segmentProfiles);
    if (percent > thresholds.rejectedPercent) {
      alerts.push({
        reason: 'rejected_share',
        message: `${rejected + suppressed} of ${segmentProfiles} profiles (${percent}%) were rejected or suppressed, more than ${thresholds.rejectedPercent}%`,
        threshold: thresholds.rejectedPercent,
        value: percent,
        figures: { rejected, suppressed, segmentProfiles },
      });
    }
  }

  if (run.finishedAt) {
    const minutes = round1((Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 60_000);
    if (minutes > thresholds.runDurationMinutes) {
      alerts.push({
        reason: 'run_duration',
        message: `the run took ${minutes} minutes, more than ${thresholds.runDurationMinutes}`,
        threshold: thresholds.runDurationMinutes,
        value: minutes,
        figures: { minutes },
      });
    }
  }

  const previous = lastSucceeded?.segmentProfiles ?? 0;
  if (run.status === 'succeeded' && previous > 0) {
    const percent = round1((100 * (segmentProfiles - previous)) / previous);
    if (Math.abs(percent) > thresholds.segmentChangePercent) {
      alerts.push({
        reason: 'segment_size_change',
        message: `the segment holds ${segmentProfiles} profiles, ${percent > 0 ? '+' : ''}${percent}% since the last successful run (${previous}), more than ±${thresholds.segmentChangePercent}%`,
        threshold: thresholds.segmentChangePercent,
        value: percent,
        figures: { segmentProfiles, previousSegmentProfiles: previous },
      });
    }
  }
  return alerts;
}
