import fs from 'node:fs';
import path from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { judge } = require('../../scripts/audit.js');

/** CI fails on a high or critical advisory of a production dependency, before the tests. */
describe('the dependency check of CI', () => {
  const report = (counts: Record<string, number>, vulnerabilities: Record<string, unknown> = {}) => ({
    auditReportVersion: 2,
    vulnerabilities,
    metadata: { vulnerabilities: { info: 0, low: 0, moderate: 0, high: 0, critical: 0, ...counts } },
  });

  it('fails on a high or a critical advisory and names the package', () => {
    const high = judge(report({ high: 1 }, { 'path-to-regexp': { severity: 'high', range: '<0.1.12', fixAvailable: true } }));
    expect(high.verdict).toBe('fail');
    expect(high.lines.join('\n')).toMatch(/high: path-to-regexp <0\.1\.12/);
    expect(judge(report({ critical: 2 })).verdict).toBe('fail');
  });

  it('passes with only moderate or low advisories', () => {
    expect(judge(report({ moderate: 3, low: 1 }, { undici: { severity: 'moderate' } })).verdict).toBe('pass');
  });

  it('says that nothing was checked when the advisory service did not answer', () => {
    const unchecked = judge({ message: '405 Method Not Allowed - POST …/advisories/bulk', error: { summary: '' } });
    expect(unchecked.verdict).toBe('unchecked');
    expect(unchecked.lines[0]).toMatch(/could not ask the advisory service: 405/);
  });

  it('runs in CI before the tests', () => {
    const commands = fs
      .readFileSync(path.join(__dirname, '../../.ci/run'), 'utf8')
      .split('\n')
      .filter((line) => line.trim() && !line.startsWith('#'));
    const audit = commands.findIndex((c) => c.startsWith('node scripts/audit.js'));
    expect(audit).toBeGreaterThan(0);
    expect(audit).toBeLessThan(commands.findIndex((c) => c.startsWith('npm test')));
  });
});
