import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../helpers/worker';
import { FIRST_NAMES, historySets, loadSet, personalDataIn, SCENARIOS, type RecordedHistory } from './histories';

/**
 * Every recorded history (test/replay/histories/, written by `npm run record-histories`) replays on
 * the current workflow code. A change that would make a run still open in production fail its
 * workflow tasks on the new code (a command added, dropped or reordered without `patched()`)
 * fails here. No server: the SDK replays each history in this process.
 */

const sets = historySets();
const histories: RecordedHistory[] = sets.flatMap((set) => loadSet(set));
const label = (h: RecordedHistory) => `${h.set}/${h.file}`;

/** The workflows each scenario must have recorded, beyond its export run(s). */
const SHAPES: Record<string, { type: string; atLeast: number }[]> = {
  'upsert-continue-as-new': [{ type: 'exportRun', atLeast: 2 }],
  'mirror-approved': [{ type: 'mirrorRemovals', atLeast: 2 }],
  scheduled: [{ type: 'scheduledExportRun', atLeast: 1 }],
  refresh: [{ type: 'refresh', atLeast: 1 }],
};

test('the newest set holds every scenario, each of its shape', () => {
  expect(sets.length).toBeGreaterThan(0);
  const newest = histories.filter((h) => h.set === sets[sets.length - 1]);
  for (const scenario of SCENARIOS) {
    const of = newest.filter((h) => h.scenario === scenario);
    expect({ scenario, exportRuns: of.some((h) => h.workflowType === 'exportRun') }).toEqual({ scenario, exportRuns: true });
    for (const { type, atLeast } of SHAPES[scenario] ?? []) {
      expect({ scenario, type, count: of.filter((h) => h.workflowType === type).length >= atLeast }).toEqual({ scenario, type, count: true });
    }
  }
});

test('the privacy check finds an address or a recorder-given name inside a payload', () => {
  const history = (value: unknown) => JSON.stringify({ events: [{ payload: { data: Buffer.from(JSON.stringify(value)).toString('base64') } }] });
  expect(personalDataIn(history({ to: 'someone@example.org' }))).toEqual(['someone@example.org']);
  expect(personalDataIn(history({ firstName: FIRST_NAMES[3].toUpperCase() }))).toEqual([FIRST_NAMES[3]]);
  expect(personalDataIn(history({ buildId: '@temporalio/worker@1.24.0+615c7bce' }))).toEqual([]);
});

test('no recorded history carries an email or a name', () => {
  const found = histories.map((h) => [label(h), personalDataIn(h.json)]).filter(([, data]) => data.length > 0);
  expect(found).toEqual([]);
});

test('every recorded history replays on the current workflow code', async () => {
  const bundle = await workflowBundle();
  const results = Worker.runReplayHistories({ workflowBundle: bundle }, histories.map((h) => ({ workflowId: h.workflowId, history: h.history })));
  const failures: string[] = [];
  let replayed = 0;
  for await (const result of results) {
    if (result.error) failures.push(`${label(histories[replayed])}: ${result.error.message}`);
    replayed++;
  }
  expect(failures).toEqual([]);
  expect(replayed).toBe(histories.length);
});
