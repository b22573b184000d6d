import path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = path.resolve(__dirname, '../..');

/**
 * Lints each [file, source] as if `source` were that file (relative to the repository) with
 * eslint.config.mjs, in one child process (jest cannot load the ESM config itself).
 */
function lintAll(cases: Array<[string, string]>): string[][] {
  const program = `
    const { ESLint } = require('eslint');
    const path = require('node:path');
    (async () => {
      const cases = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
      const eslint = new ESLint({ cwd: process.cwd() });
      const out = [];
      for (const [file, source] of cases) {
        const [r] = await eslint.lintText(source, { filePath: path.join(process.cwd(), file) });
        out.push(r.messages.map((m) => m.ruleId + ': ' + m.message));
      }
      process.stdout.write(JSON.stringify(out));
    })();`;
  const r = spawnSync(process.execPath, ['-e', program], { cwd: root, input: JSON.stringify(cases), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as string[][];
}

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
