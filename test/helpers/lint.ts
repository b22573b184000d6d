import path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = path.resolve(__dirname, '../..');

/**
 * Lints each [file, source] as if `source` were that file (relative to the repository) with
 * eslint.config.mjs, in one child process (jest cannot load the ESM config itself). Answers, per
 * case, the messages as `ruleId: message`.
 */
export function lintAll(cases: Array<[string, string]>): string[][] {
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
