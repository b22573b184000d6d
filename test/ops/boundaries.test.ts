import { lintAll } from '../helpers/lint';

/**
 * The import boundaries of every folder (eslint.config.mjs): a scratch file in each folder with one
 * forbidden import fails the lint, one with an allowed import passes. `npm test` runs this, so a
 * forbidden import fails CI as the lint itself does (`npm run lint`).
 */

const value = (from: string) => `import * as m from '${from}';\nexport const x = m;\n`;
const types = (from: string) => `import type * as m from '${from}';\nexport type X = typeof m;\n`;

type Case = [file: string, source: string, why: string];

const forbidden: Case[] = [
  ['api/probe.ts', value('../worker/workflow-bundle'), 'api and worker are one layer'],
  ['api/routes/probe.ts', value('../../test/helpers/app'), 'the product never imports the tests'],
  ['worker/probe.ts', value('../api/app'), 'worker and api are one layer'],
  ['workflows/probe.ts', value('../services/run-start'), 'workflows take values of services/contracts only'],
  ['workflows/probe.ts', value('../store'), 'workflows import the store for types only'],
  ['workflows/probe.ts', types('../api/errors'), 'workflows are below the API, even for types'],
  ['workflows/probe.ts', value('node:fs'), 'no Node built-ins in workflows'],
  ['activities/probe.ts', types('../workflows/exportRun'), 'activities and workflows are one layer'],
  ['activities/probe.ts', value('../api/errors'), 'activities are below the API'],
  ['services/probe.ts', value('../activities/failures'), 'services are below the activities'],
  ['services/probe.ts', value('../workflows/quota'), 'services are below the workflows'],
  ['constant-contact/probe.ts', value('../store/db'), 'the Constant Contact client takes store types only'],
  ['constant-contact/probe.ts', value('../services/cron'), 'constant-contact is below services'],
  ['store/probe.ts', value('../constant-contact/types'), 'store and constant-contact are one layer'],
  ['store/probe.ts', value('../services/contracts'), 'the store is below services'],
  ['common/probe.ts', value('../store'), 'common is the ground floor'],
  ['common/sub/probe.ts', types('../../services/contracts'), 'common is the ground floor, even for types'],
  ['common/probe.ts', value('@temporalio/client'), 'no Temporal in common'],
  ['sandbox/probe.ts', value('../common/config'), 'the sandbox shares no code with the product'],
  ['sandbox/v3/probe.ts', value('../../constant-contact/types'), 'the sandbox shares no code with the product'],
];

const allowed: Case[] = [
  ['api/probe.ts', value('../workflows/mirrorRemovals'), 'api is above the workflows'],
  ['api/routes/probe.ts', value('../../services/run-start'), 'api is above services'],
  ['worker/probe.ts', value('../activities'), 'worker is above the activities'],
  ['workflows/probe.ts', value('../services/contracts'), 'services/contracts is workflow code'],
  ['workflows/probe.ts', types('../activities'), 'activity types for proxyActivities'],
  ['workflows/probe.ts', types('../store/types'), 'store types'],
  ['activities/probe.ts', value('../services/run-start'), 'activities are above services'],
  ['services/probe.ts', value('../store'), 'services are above the store'],
  ['services/probe.ts', value('../constant-contact/types'), 'services are above the Constant Contact client'],
  ['constant-contact/probe.ts', types('../store/tokens'), 'repository types of the store'],
  ['constant-contact/probe.ts', value('../common/config'), 'common is below everything'],
  ['store/probe.ts', value('../common/ids'), 'common is below the store'],
  ['common/probe.ts', value('./config'), 'common imports itself'],
  ['sandbox/v3/probe.ts', value('../http'), 'the sandbox imports itself'],
];

const boundaryMessages = (messages: string[]) => messages.filter((m) => m.includes('no-restricted-imports'));

describe('the import boundaries of every folder', () => {
  let results: string[][];
  beforeAll(() => {
    results = lintAll([...forbidden, ...allowed].map(([file, source]): [string, string] => [file, source]));
  });

  it.each(forbidden.map((c, i) => [c[0], c[2], i] as const))('%s: a forbidden import fails the lint (%s)', (_file, _why, i) => {
    expect(boundaryMessages(results[i])).toEqual([expect.stringMatching(/no-restricted-imports/)]);
  });

  it.each(allowed.map((c, i) => [c[0], c[2], forbidden.length + i] as const))('%s: an allowed import passes (%s)', (_file, _why, i) => {
    expect(boundaryMessages(results[i])).toEqual([]);
  });

  it('covers every folder of the product and the sandbox', () => {
    const folders = (cases: Case[]) => new Set(cases.map(([file]) => file.split('/')[0]));
    const all = ['api', 'worker', 'workflows', 'activities', 'services', 'constant-contact', 'store', 'common', 'sandbox'];
    expect([...folders(forbidden)].sort()).toEqual([...all].sort());
    expect([...folders(allowed)].sort()).toEqual([...all].sort());
  });
});
