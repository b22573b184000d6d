'use strict';
/**
 * Running jest for `npm test` and `npm run test:unit`, and its one closing line
 * `Tests: N passed, N failed` (failures listed above it).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { ROOT } = require('./environment.js');
const { say } = require('./logs.js');

/**
 * The closing summary from jest's --json output. Suites that failed to run (syntax errors, a
 * failing beforeAll without tests) count as failures too: otherwise a broken file would be silent.
 */
function summarizeJest(results) {
  const failedNames = [];
  let suiteErrors = 0;
  for (const suite of results.testResults || []) {
    const file = path.relative(ROOT, suite.name || suite.testFilePath || '');
    const asserts = suite.assertionResults || suite.testResults || [];
    for (const a of asserts) {
      if (a.status === 'failed') failedNames.push(`${file}: ${a.fullName || [...(a.ancestorTitles || []), a.title].join(' ')}`);
    }
    if (suite.status === 'failed' && !asserts.some((a) => a.status === 'failed')) {
      suiteErrors += 1;
      const firstLine = String(suite.message || suite.failureMessage || '').split('\n').find((l) => l.trim()) || 'failed to run';
      failedNames.push(`${file}: (suite failed to run) ${firstLine.trim()}`);
    }
  }
  const passed = results.numPassedTests || 0;
  const failed = (results.numFailedTests || 0) + suiteErrors;
  return { passed, failed, failedNames, line: `Tests: ${passed} passed, ${failed} failed` };
}

/** Runs jest with `args`; resolves its exit code (SIGTERM, a CI timeout, is forwarded to it). */
function spawnJest(args, env) {
  const jestBin = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [jestBin, ...args], { cwd: ROOT, env, stdio: 'inherit' });
    // Ctrl-C reaches jest directly (same process group).
    const onInt = () => {};
    const onTerm = () => {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    child.on('exit', (c, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(c ?? (signal ? 1 : 0));
    });
  });
}

/**
 * Runs jest, then prints the failures and the closing line. `buildOk` false (tsc failed) fails the
 * run too. Resolves the exit code for the command.
 */
async function runJestWithSummary(args, { env = process.env, buildOk = true } = {}) {
  const outFile = path.join(os.tmpdir(), `segment-export-jest-${process.pid}-${Date.now()}.json`);
  const code = await spawnJest(['--ci', '--json', `--outputFile=${outFile}`, ...args], env);
  let summary;
  try {
    summary = summarizeJest(JSON.parse(fs.readFileSync(outFile, 'utf8')));
  } catch {
    summary = null;
  } finally {
    fs.rmSync(outFile, { force: true });
  }
  say('');
  if (!buildOk) say('Build failed: tsc -p tsconfig.build.json reported errors');
  if (!summary) {
    say(`jest exited with ${code} without writing results`);
    say('Tests: 0 passed, 0 failed');
    return code || 1;
  }
  if (summary.failedNames.length) {
    say('Failed:');
    for (const n of summary.failedNames) say(`  ✕ ${n}`);
  }
  say(summary.line);
  return summary.failed > 0 || code !== 0 || !buildOk ? 1 : 0;
}

module.exports = { summarizeJest, runJestWithSummary };
