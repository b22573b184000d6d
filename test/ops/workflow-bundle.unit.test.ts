import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { workflowBundleKey, workflowBundleModules } from '../../worker/workflow-bundle';

/**
 * The worker caches its workflow bundle under a key; a change to any file the bundle is made of
 * must change the key (else a worker would run stale workflow code), wherever the file lives.
 */
describe('the workflow bundle cache key', () => {
  let dir: string;
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  };
  const key = () => workflowBundleKey(path.join(dir, 'workflows/index.js'));

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-key-'));
    write('workflows/index.js', 'exports.run = require("./run").run;\n');
    write('workflows/run.ts', [
      "import { proxyActivities } from '@temporalio/workflow';",
      "import type { Activities } from '../activities';",
      "import { RUN_TYPE } from '../services/contracts';",
      "export * from './names';",
      'export const run = () => RUN_TYPE;',
    ].join('\n'));
    write('workflows/names.ts', "export const NAME = 'run';\n");
    write('services/contracts.js', 'exports.RUN_TYPE = "exportRun";\n');
    write('activities/index.ts', 'export type Activities = { a(): Promise<void> };\n');
    write('store/db.js', 'exports.open = () => undefined;\n');
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('changes when a file outside workflows/ that the workflows import changes', () => {
    const before = key();
    write('services/contracts.js', 'exports.RUN_TYPE = "exportRunV2";\n');
    expect(key()).not.toBe(before);
  });

  it('changes when a workflow file reached through a re-export changes', () => {
    const before = key();
    write('workflows/names.ts', "export const NAME = 'renamed';\n");
    expect(key()).not.toBe(before);
  });

  it('stays when only files the bundle does not contain change (type-only imports, other folders)', () => {
    const before = key();
    write('activities/index.ts', 'export type Activities = { a(): Promise<void>; b(): Promise<void> };\n');
    write('store/db.js', 'exports.open = () => null;\n');
    expect(key()).toBe(before);
  });

  it("follows this repository's workflows to services/contracts and the SDK, not to activities or the store", () => {
    const root = path.resolve(__dirname, '../..');
    const { files, packages } = workflowBundleModules(path.join(root, 'workflows/index.ts'));
    const names = [...files.keys()].map((f) => path.relative(root, f));
    expect(names).toEqual(expect.arrayContaining(['workflows/index.ts', 'workflows/exportRun.ts', 'workflows/quota.ts', 'services/contracts.ts']));
    expect(names.filter((n) => !n.startsWith('workflows/') && n !== 'services/contracts.ts')).toEqual([]);
    expect(packages).toEqual(expect.arrayContaining([expect.stringMatching(/^@temporalio\/workflow@\d/), expect.stringMatching(/^@temporalio\/common@\d/)]));
  });
});
