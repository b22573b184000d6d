import fs from 'node:fs';
import path from 'node:path';
import { envSchema } from '../../common/config';

const root = path.resolve(__dirname, '../..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');

describe('README.md', () => {
  it('documents every environment variable of common/config.ts', () => {
    const missing = Object.keys(envSchema.shape).filter((name) => !readme.includes(`| \`${name}\` |`));
    // A new variable in common/config.ts needs a row in the README's configuration table.
    expect(missing).toEqual([]);
  });

  it('keeps the sections other parts of the project extend', () => {
    for (const heading of ['## Two commands', '## Configuration', '## API', '## Exports and runs', '## Deploying with docker compose']) {
      expect(readme).toContain(`\n${heading}\n`);
    }
  });

  it('describes what .ci/run runs: chromium when missing, the dependency check, then npm test', () => {
    const ci = fs.readFileSync(path.join(root, '.ci/run'), 'utf8');
    const commands = ci.split('\n').filter((l) => l.trim() && !l.startsWith('#') && !/^set |^cd /.test(l));
    expect(commands).toEqual([
      'node scripts/audit.js </dev/null',
      expect.stringMatching(/^command -v chromium >\/dev\/null \|\| \{ apt-get update -qq && .*apt-get install -y -qq chromium/),
      'npm test </dev/null',
    ]);
    expect(readme).toContain('CI runs `.ci/run`: the dependency check (`node scripts/audit.js`');
    expect(readme).toMatch(/then `npm test`/);
  });
});
