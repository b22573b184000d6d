#!/usr/bin/env node
'use strict';
/**
 * The dependency check of CI: `npm audit --omit=dev` must report no high or critical advisory.
 * It runs before the tests and takes seconds. Exit 1 when it finds one (naming the packages).
 *
 * When npm's advisory service cannot be asked (no network, or a registry mirror without the audit
 * endpoint), nothing was checked: it says so loudly and exits 0, or 1 with NPM_AUDIT_REQUIRED=true
 * (set it where CI reaches the advisory service, so that an outage cannot pass unnoticed).
 */
const { spawnSync } = require('node:child_process');

const BLOCKING = ['high', 'critical'];

/** The verdict on the JSON of `npm audit --json`: pass, fail (with the packages) or unchecked. */
function judge(report) {
  const counts = report && report.metadata && report.metadata.vulnerabilities;
  if (!counts) {
    const why = (report && (report.message || (report.error && report.error.summary))) || 'no audit report';
    return { verdict: 'unchecked', lines: [`npm audit could not ask the advisory service: ${why}`] };
  }
  const blocking = Object.entries(report.vulnerabilities || {})
    .filter(([, v]) => BLOCKING.includes(v.severity))
    .map(([name, v]) => `${v.severity}: ${name}${v.range ? ` ${v.range}` : ''}${v.fixAvailable ? ' (npm audit fix --omit=dev)' : ''}`)
    .sort();
  const total = BLOCKING.reduce((n, s) => n + (counts[s] || 0), 0);
  if (total > 0) return { verdict: 'fail', lines: [`npm audit --omit=dev: ${counts.critical || 0} critical, ${counts.high || 0} high`, ...blocking] };
  return { verdict: 'pass', lines: [`npm audit --omit=dev: no high or critical advisory (${counts.moderate || 0} moderate, ${counts.low || 0} low)`] };
}

function main() {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const run = spawnSync(npm, ['audit', '--omit=dev', '--json'], { encoding: 'utf8', timeout: 120_000 });
  let report;
  try {
    report = JSON.parse(run.stdout);
  } catch {
    report = { message: run.error ? run.error.message : `npm audit printed no JSON (exit ${run.status})` };
  }
  const { verdict, lines } = judge(report);
  for (const line of lines) process.stdout.write(`${line}\n`);
  if (verdict === 'fail') process.exit(1);
  if (verdict === 'unchecked') {
    const required = /^(1|true|yes)$/i.test(process.env.NPM_AUDIT_REQUIRED || '');
    process.stdout.write(`WARNING: dependencies NOT checked for advisories${required ? ' (NPM_AUDIT_REQUIRED: failing)' : ''}\n`);
    if (required) process.exit(1);
  }
}

if (require.main === module) main();
module.exports = { judge };
