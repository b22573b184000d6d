import { lintAll } from '../helpers/lint';

const forbidden = [
  "import fs from 'node:fs';\nexport const x = fs;\n",
  "import { randomUUID } from 'crypto';\nexport const x = randomUUID;\n",
  "import pg from 'pg';\nexport const x = pg;\n",
  "import { createActivities } from '../activities';\nexport const x = createActivities;\n",
  "import { openStore } from '../store';\nexport const x = openStore;\n",
  "import { parseConfig } from '../common/config';\nexport const x = parseConfig;\n",
];
const allowedWorkflow =
  "import { proxyActivities } from '@temporalio/workflow';\nimport type * as activities from '../activities';\nexport const acts = proxyActivities<typeof activities>({ startToCloseTimeout: '1 minute' });\n";
const nodeInActivity = "import fs from 'node:fs';\nexport const x = fs;\n";

describe('the workflow lint rule', () => {
  let results: string[][];
  beforeAll(() => {
    results = lintAll([
      ...forbidden.map((source): [string, string] => ['workflows/probe.ts', source]),
      ['workflows/probe.ts', allowedWorkflow],
      ['activities/probe.ts', nodeInActivity],
    ]);
  });

  it('rejects Node built-ins, I/O packages and values from activities, the store or the config in workflows/', () => {
    forbidden.forEach((source, i) => expect([source, results[i].join('\n')]).toEqual([source, expect.stringMatching(/no-restricted-imports/)]));
  });

  it('accepts activity types and the workflow SDK', () => {
    expect(results[forbidden.length]).toEqual([]);
  });

  it('leaves activities free to use Node', () => {
    expect(results[forbidden.length + 1]).toEqual([]);
  });
});
