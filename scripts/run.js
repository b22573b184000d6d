#!/usr/bin/env node
'use strict';
/**
 * The one entry point behind the npm scripts. Plain CommonJS without dependencies, so it runs on a
 * fresh clone before `npm install`.
 *
 *   node scripts/run.js start      dev server + sandbox + worker + API, restarted when one exits; Ctrl-C stops them all
 *   node scripts/run.js test [...] the whole jest suite; ends with `Tests: N passed, N failed`
 *   node scripts/run.js test:unit [...]  the unit tests only: no Temporal server, no PostgreSQL
 *   node scripts/run.js worker|api|sandbox   one process alone (scale out, replace a crashed one)
 *   node scripts/run.js temporal   the Temporal dev server in the foreground
 *   node scripts/run.js bench|demo [...]     delegate to dist/bench/main.js, dist/scripts/demo.js
 *
 * The work is done by its neighbours: prepare.js (install, build), secrets.js (generated keys),
 * supervise.js (child processes), logs.js (output), jest-summary.js (the tests), temporal.js.
 */
const fs = require('node:fs');
const path = require('node:path');
const temporal = require('./temporal.js');
const { ENTRY, dataDir, entryPath, realConstantContact, requireEntry, temporalTarget } = require('./environment.js');
const { buildIsStale, ensureBuild, ensureDependencies, prepare } = require('./prepare.js');
const { appEnvironment, ensureApiKeys, ensureSecretsKey } = require('./secrets.js');
const { createSupervisor, httpGet, runForeground, spawnApp } = require('./supervise.js');
const { bold, formatLine, say, warn } = require('./logs.js');
const { runJestWithSummary, summarizeJest } = require('./jest-summary.js');

const { sleep } = temporal;

class UsageError extends Error {}

async function cmdStart() {
  await prepare();
  const { env, keys, secrets, dir } = appEnvironment();
  const target = temporalTarget(env);
  const supervisor = createSupervisor();
  let server = null;
  try {
    if (target.local) {
      const cli = await temporal.ensureTemporalCli();
      say(`Starting the Temporal dev server on ${target.address} (UI on ${target.uiPort})...`);
      // Supervised like the others: restarted on the same database file, it keeps every run and
      // schedule, and the worker and the API reconnect to it by themselves.
      server = await supervisor.supervise('temporal', () =>
        temporal.startDevServer({
          cli: cli.path,
          ip: target.host === 'localhost' ? '127.0.0.1' : target.host || '127.0.0.1',
          port: target.port,
          uiPort: target.uiPort,
          dbFile: path.join(dir, 'temporal', 'temporal.db'),
          logFile: path.join(dir, 'temporal', 'temporal.log'),
          namespace: target.namespace,
          healthTimeoutMs: 90000,
          watchOwner: process.pid, // covers the server while it starts, before the supervisor's watchdog knows it
        }),
      );
      if (!process.env.TEMPORAL_UI_URL && server.uiUrl) env.TEMPORAL_UI_URL = server.uiUrl;
    } else if (!(await temporal.isListening(target.host, target.port, 3000))) {
      warn(`TEMPORAL_ADDRESS ${target.address} does not answer yet; the API keeps trying; the worker is restarted until it connects (npm start stops if it fails 5 times within a minute)`);
    }
    if (supervisor.stopping) return;

    if (!realConstantContact(env)) {
      if (fs.existsSync(entryPath('sandbox'))) {
        await supervisor.start('sandbox', entryPath('sandbox'), env);
        const sandboxPort = Number(env.CC_SANDBOX_PORT || 4010);
        const deadline = Date.now() + 30000;
        while (!supervisor.stopping && !(await temporal.isListening('127.0.0.1', sandboxPort)) && Date.now() < deadline) await sleep(200);
      } else {
        warn(`${ENTRY.sandbox} is missing: starting without the Constant Contact sandbox`);
      }
    }
    await supervisor.start('worker', requireEntry('worker'), env);
    await supervisor.start('api', requireEntry('api'), env);

    const apiUrl = `http://127.0.0.1:${Number(env.PORT || 3000)}`;
    await waitReady(apiUrl, supervisor);
    if (supervisor.stopping) return;
    printRunning({ env, target, server, keys, secrets, apiUrl });
  } catch (err) {
    warn(err.message);
    await supervisor.stopAll(1);
  }
}

/** Waits until the API's /readyz answers 200 (120 s at most), or the supervisor stops. */
async function waitReady(apiUrl, supervisor) {
  const deadline = Date.now() + 120000;
  let last = { status: 0, body: '' };
  while (!supervisor.stopping) {
    last = await httpGet(`${apiUrl}/readyz`);
    if (last.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${apiUrl}/readyz did not answer 200 within 120 s (last: ${last.status} ${last.body})`);
    await sleep(500);
  }
}

function printRunning({ env, target, server, keys, secrets, apiUrl }) {
  const ui = env.TEMPORAL_UI_URL || `http://127.0.0.1:${target.uiPort}`;
  say('');
  say(bold('segment-export is running'));
  say(`  API           ${apiUrl}   (OpenAPI: ${apiUrl}/v1/openapi.json)`);
  say(`  Console       ${apiUrl}/console/`);
  say(`  Temporal UI   ${ui}`);
  say(`  Temporal      ${target.address} (namespace ${target.namespace})${server?.reused ? ', reused' : ''}`);
  if (!realConstantContact(env)) say(`  CC sandbox    http://127.0.0.1:${env.CC_SANDBOX_PORT || 4010}`);
  else say('  Constant Contact: the real service (CC_CLIENT_ID is set)');
  if (keys.stored) {
    say(`  Admin key        ${keys.stored.admin}`);
    say(`  Contributor key  ${keys.stored.contributor}`);
    say(`  (kept in ${path.relative(process.cwd(), keys.file) || keys.file}${keys.created ? ', new' : ''})`);
  } else {
    say('  API keys      from API_KEYS');
  }
  if (secrets.file && secrets.created) say(`  SECRETS_KEY   generated into ${path.relative(process.cwd(), secrets.file)}`);
  say(`  Logs          Temporal: ${server?.logFile ? path.relative(process.cwd(), server.logFile) : 'n/a'}; the others below`);
  say('Press Ctrl-C to stop.');
  say('ready');
}

/** worker | api | sandbox alone, in the foreground. */
async function cmdOne(name) {
  await prepare();
  const env = name === 'sandbox' ? { ...process.env } : appEnvironment().env;
  if (name !== 'sandbox' && !process.env.TEMPORAL_UI_URL) {
    const t = temporalTarget(env);
    if (t.local) env.TEMPORAL_UI_URL = `http://127.0.0.1:${t.uiPort}`;
  }
  return runForeground(requireEntry(name), process.argv.slice(3), env);
}

async function cmdTemporal() {
  const cli = await temporal.ensureTemporalCli();
  const target = temporalTarget();
  if (!target.local) throw new UsageError(`TEMPORAL_ADDRESS ${target.address} is not local; the dev server only runs on this machine`);
  if (await temporal.isListening(target.host, target.port)) {
    say(`A Temporal server is already listening at ${target.address}.`);
    return 0;
  }
  const dir = dataDir();
  const server = await temporal.startDevServer({
    cli: cli.path,
    ip: target.host === 'localhost' || !target.host ? '127.0.0.1' : target.host,
    port: target.port,
    uiPort: target.uiPort,
    dbFile: path.join(dir, 'temporal', 'temporal.db'),
    logFile: null, // foreground: its output goes to this terminal
    namespace: target.namespace,
    healthTimeoutMs: 90000,
    watchOwner: process.pid,
  });
  say(`Temporal dev server ${cli.version ? `(CLI v${cli.version}) ` : ''}on ${server.address}, UI ${server.uiUrl}, database ${path.relative(process.cwd(), path.join(dir, 'temporal', 'temporal.db'))}`);
  say('Press Ctrl-C to stop.');
  return new Promise((resolve) => {
    let stopping = false;
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      await server.stop();
      resolve(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    process.on('SIGHUP', stop);
    server.child.on('exit', (code, signal) => {
      if (stopping) return;
      warn(`the Temporal dev server exited (${signal || code})`);
      resolve(code || 1);
    });
  });
}

/**
 * The whole suite (both jest projects), or with `unitOnly` the unit project alone: that one needs
 * neither the Temporal CLI nor a server (the integration project's global setup starts the server).
 */
async function cmdTest(args, { unitOnly = false } = {}) {
  ensureDependencies();
  const buildOk = ensureBuild();
  if (!buildOk) warn('the TypeScript build failed; running the tests anyway (tests that spawn dist/ may fail)');
  if (unitOnly) return runJestWithSummary(['--selectProjects', 'unit', ...args], { buildOk });
  const cli = await temporal.ensureTemporalCli();
  return runJestWithSummary(args, { env: { ...process.env, TEMPORAL_CLI: cli.path }, buildOk });
}

async function cmdDelegate(name, args) {
  await prepare();
  const env = { ...appEnvironment().env };
  const cli = temporal.findTemporalCli();
  if (cli && !env.TEMPORAL_CLI) env.TEMPORAL_CLI = cli.path;
  return runForeground(requireEntry(name), args, env);
}

const USAGE = `usage: node scripts/run.js <command> [args]
  start       Temporal dev server, Constant Contact sandbox, worker and API (Ctrl-C stops all)
  cluster     Temporal server on PostgreSQL, its UI, N workers and M APIs (--workers N --apis M)
  test        the test suite (extra args go to jest)
  test:unit   the unit tests only (no Temporal server, no PostgreSQL)
  worker      one worker process against the running Temporal server and store
  api         one API process
  sandbox     the Constant Contact sandbox alone
  temporal    the Temporal dev server in the foreground
  bench       the benchmark (args passed through)
  demo        the demo (args passed through)`;

async function main(argv) {
  const [cmd, ...args] = argv;
  process.chdir(path.resolve(__dirname, '..'));
  switch (cmd) {
    case 'start':
      await cmdStart();
      return null; // keeps running until a signal
    case 'test':
      return cmdTest(args);
    case 'test:unit':
      return cmdTest(args, { unitOnly: true });
    case 'worker':
    case 'api':
    case 'sandbox':
      return cmdOne(cmd);
    case 'temporal':
      return cmdTemporal();
    case 'bench':
    case 'demo':
      return cmdDelegate(cmd, args);
    case 'cluster':
      await require('./cluster.js').cmdCluster(args);
      return null; // keeps running until a signal
    case 'build':
      ensureDependencies();
      return ensureBuild({ force: true }) ? 0 : 1;
    default:
      throw new UsageError(USAGE);
  }
}

module.exports = { summarizeJest, ensureApiKeys, ensureSecretsKey, temporalTarget, realConstantContact, formatLine, buildIsStale, prepare, appEnvironment, spawnApp, entryPath, requireEntry };

if (require.main === module) {
  // DATA_DIR is relative to where the command was started; resolve it before changing directory.
  if (process.env.DATA_DIR) process.env.DATA_DIR = path.resolve(process.env.DATA_DIR);
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== null && code !== undefined) process.exit(code);
    },
    (err) => {
      process.stderr.write(`${err instanceof UsageError ? '' : 'run: '}${err.message}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
