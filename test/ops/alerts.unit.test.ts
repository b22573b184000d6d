import { effectiveThresholds, evaluateAlerts } from '../../services/alerts';
import { emptyCounts, type RunCounts, type RunStatus } from '../../store/types';

const defaults = { rejectedPercent: 50, runDurationMinutes: 120, segmentChangePercent: 50 };
const at = (minutes: number) => new Date(Date.UTC(2030, 0, 1, 12, minutes)).toISOString();

function run(counts: Partial<RunCounts> & { suppressed?: number }, options: { status?: RunStatus; minutes?: number } = {}) {
  return { status: options.status ?? 'succeeded', startedAt: at(0), finishedAt: at(options.minutes ?? 5), counts: { ...emptyCounts(), ...counts } };
}

describe('run alerts', () => {
  it('alert when rejected profiles are 60% of the segment, with the figures', () => {
    const alerts = evaluateAlerts(run({ segmentProfiles: 100, rejected: 60, sent: 40 }), defaults, undefined);
    expect(alerts).toEqual([
      expect.objectContaining({ reason: 'rejected_share', threshold: 50, value: 60, figures: { rejected: 60, suppressed: 0, segmentProfiles: 100 } }),
    ]);
  });

  it('raise none for a run within every threshold', () => {
    expect(evaluateAlerts(run({ segmentProfiles: 100, rejected: 10, sent: 90 }, { minutes: 30 }), defaults, { ...emptyCounts(), segmentProfiles: 80 })).toEqual([]);
  });

  it('count suppressed profiles with the rejected ones, and a run without the count as none suppressed', () => {
    const withSuppressed = evaluateAlerts(run({ segmentProfiles: 100, rejected: 30, suppressed: 21 }), defaults, undefined);
    expect(withSuppressed.map((a) => [a.reason, a.value])).toEqual([['rejected_share', 51]]);
    expect(evaluateAlerts(run({ segmentProfiles: 100, rejected: 50 }), defaults, undefined)).toEqual([]);
  });

  it('alert on a run longer than the duration threshold', () => {
    const alerts = evaluateAlerts(run({ segmentProfiles: 10, sent: 10 }, { minutes: 121 }), defaults, undefined);
    expect(alerts).toEqual([expect.objectContaining({ reason: 'run_duration', threshold: 120, value: 121 })]);
  });

  it('alert when the segment grew or shrank by more than the percentage since the last successful run', () => {
    const grown = evaluateAlerts(run({ segmentProfiles: 160, sent: 160 }), defaults, { ...emptyCounts(), segmentProfiles: 100 });
    expect(grown).toEqual([expect.objectContaining({ reason: 'segment_size_change', value: 60, figures: { segmentProfiles: 160, previousSegmentProfiles: 100 } })]);
    const shrunk = evaluateAlerts(run({ segmentProfiles: 40, sent: 40 }), defaults, { ...emptyCounts(), segmentProfiles: 100 });
    expect(shrunk.map((a) => a.value)).toEqual([-60]);
    expect(evaluateAlerts(run({ segmentProfiles: 150, sent: 150 }), defaults, { ...emptyCounts(), segmentProfiles: 100 })).toEqual([]);
  });

  it('judge the segment size only on a succeeded run with a baseline', () => {
    expect(evaluateAlerts(run({ segmentProfiles: 0 }, { status: 'failed' }), defaults, { ...emptyCounts(), segmentProfiles: 100 })).toEqual([]);
    expect(evaluateAlerts(run({ segmentProfiles: 500, sent: 500 }), defaults, undefined)).toEqual([]);
    expect(evaluateAlerts(run({ segmentProfiles: 500, sent: 500 }), defaults, { ...emptyCounts(), segmentProfiles: 0 })).toEqual([]);
  });

  it('raise none for a skipped run', () => {
    expect(evaluateAlerts(run({}, { status: 'skipped', minutes: 500 }), defaults, undefined)).toEqual([]);
  });

  it("use an export's own thresholds over the defaults", () => {
    const thresholds = effectiveThresholds(defaults, { rejectedPercent: 5, runDurationMinutes: null, segmentChangePercent: null });
    expect(thresholds).toEqual({ rejectedPercent: 5, runDurationMinutes: 120, segmentChangePercent: 50 });
    expect(evaluateAlerts(run({ segmentProfiles: 100, rejected: 10 }), thresholds, undefined).map((a) => a.reason)).toEqual(['rejected_share']);
  });
});
